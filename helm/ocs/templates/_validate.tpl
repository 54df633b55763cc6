{{/* Every problem with the values at once, so one `helm install` shows them all. */}}
{{- define "ocs.validateValues" -}}
{{- $problems := list -}}
{{- $p := .Values.predictor -}}
{{- if and $p.canary.enabled (not $p.canary.modelTag) }}
{{- $problems = append $problems "predictor.canary.enabled is true but predictor.canary.modelTag is empty" }}
{{- end }}
{{- if and $p.canary.enabled (eq $p.canary.modelTag $p.stable.modelTag) }}
{{- $problems = append $problems "predictor.canary.modelTag equals predictor.stable.modelTag: a canary needs another model" }}
{{- end }}
{{- if and (not $p.canary.enabled) (or (gt (int $p.canary.weight) 0) $p.canary.shadow) }}
{{- $problems = append $problems "predictor.canary.weight/shadow are set but predictor.canary.enabled is false" }}
{{- end }}
{{- if and .Values.monitoring.podMonitor.enabled .Values.monitoring.serviceMonitor.enabled }}
{{- $problems = append $problems "monitoring.podMonitor and monitoring.serviceMonitor both scrape ocs's metrics (the pod's sidecar and the Gateway's /metrics): enable one, or every sample counts twice" }}
{{- end }}
{{- if and (eq .Values.registry.type "gcs") (not .Values.registry.gcs.bucket) }}
{{- $problems = append $problems "registry.type is gcs but registry.gcs.bucket is empty" }}
{{- end }}
{{- if and (eq .Values.registry.type "pvc") (not .Values.registry.pvc.claimName) }}
{{- $problems = append $problems "registry.type is pvc but registry.pvc.claimName is empty" }}
{{- end }}
{{- range $name, $a := dict "predictor" $p.autoscaling "gateway" .Values.gateway.autoscaling "emailGenerator" .Values.emailGenerator.autoscaling }}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) }}
{{- $problems = append $problems (printf "%s.autoscaling.minReplicas (%v) is above maxReplicas (%v)" $name $a.minReplicas $a.maxReplicas) }}
{{- end }}
{{- end }}
{{- range $name, $g := dict "ray.cpuWorkers" .Values.ray.cpuWorkers "ray.gpuWorkers" .Values.ray.gpuWorkers }}
{{- if or (gt (int $g.minReplicas) (int $g.replicas)) (gt (int $g.replicas) (int $g.maxReplicas)) }}
{{- $problems = append $problems (printf "%s needs minReplicas <= replicas <= maxReplicas (%v, %v, %v)" $name $g.minReplicas $g.replicas $g.maxReplicas) }}
{{- end }}
{{- end }}
{{- if .Values.emailGenerator.enabled }}
{{- $w := .Values.emailGenerator.weights }}
{{- if and (gt (int .Values.emailGenerator.numGpus) 0) (not .Values.ray.gpuWorkers.enabled) }}
{{- $problems = append $problems "emailGenerator.numGpus > 0 needs ray.gpuWorkers.enabled" }}
{{- end }}
{{- if gt (int .Values.emailGenerator.numGpus) (int .Values.ray.gpuWorkers.gpusPerPod) }}
{{- $problems = append $problems "emailGenerator.numGpus is above ray.gpuWorkers.gpusPerPod: no pod could hold a replica" }}
{{- end }}
{{- if and (eq $w.source "gcs") (not $w.gcs.bucket) }}
{{- $problems = append $problems "emailGenerator.weights.source is gcs but emailGenerator.weights.gcs.bucket is empty" }}
{{- end }}
{{- if and (eq $w.source "pvc") (not $w.pvc.claimName) }}
{{- $problems = append $problems "emailGenerator.weights.source is pvc but emailGenerator.weights.pvc.claimName is empty" }}
{{- end }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.httpRoute.enabled }}
{{- $problems = append $problems "choose one of ingress.enabled and httpRoute.enabled" }}
{{- end }}
{{- if $problems }}
{{- fail (printf "\ninvalid values:\n  - %s" (join "\n  - " $problems)) }}
{{- end }}
{{- end }}

