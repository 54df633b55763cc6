{{/* One Serve deployment's replica settings: fixed replicas or autoscaling_config. */}}
{{- define "ocs.replicas" -}}
{{- if .autoscaling.enabled }}
autoscaling_config:
  min_replicas: {{ .autoscaling.minReplicas }}
  max_replicas: {{ .autoscaling.maxReplicas }}
  target_ongoing_requests: {{ .autoscaling.targetOngoingRequests }}
{{- else }}
num_replicas: {{ .replicas }}
{{- end }}
{{- end }}

{{/*
The Ray Serve config (serveConfigV2). Weight and shadow live only in the Gateway's user_config,
so `helm upgrade --set predictor.canary.weight=N` changes nothing else: Serve calls reconfigure()
on the running replicas. A new canary model changes `args`, which redeploys the application.
*/}}
{{- define "ocs.serveConfig" -}}
{{- $p := .Values.predictor -}}
proxy_location: EveryNode
http_options:
  host: 0.0.0.0
  port: {{ .Values.service.port }}
applications:
  - name: ocs
    route_prefix: /
    import_path: serving.app:build_app
    # Every replica process of a pod writes its metrics to one directory on the pod's /tmp
    # (an emptyDir); the Gateway's /metrics merges them (serving/multiprocess_metrics.py).
    runtime_env:
      env_vars:
        PROMETHEUS_MULTIPROC_DIR: {{ include "ocs.metricsDir" . }}
    args:
      model_tag: {{ $p.stable.modelTag | quote }}
      {{- if $p.canary.enabled }}
      canary_model_tag: {{ $p.canary.modelTag | quote }}
      {{- end }}
      gateway_max_in_flight: {{ .Values.gateway.maxInFlight }}
    deployments:
      - name: Gateway
        {{- include "ocs.replicas" .Values.gateway | trim | nindent 8 }}
        max_ongoing_requests: {{ .Values.gateway.maxOngoingRequests }}
        ray_actor_options:
          num_cpus: {{ .Values.gateway.numCpus }}
        user_config:
          canary:
            enabled: {{ $p.canary.enabled }}
            weight: {{ $p.canary.weight }}
            shadow: {{ $p.canary.shadow }}
      {{- range $name := list "Predictor" "PredictorCanary" }}
      {{- if or (eq $name "Predictor") $p.canary.enabled }}
      - name: {{ $name }}
        {{- include "ocs.replicas" $p | trim | nindent 8 }}
        max_ongoing_requests: {{ $p.maxOngoingRequests }}
        ray_actor_options:
          num_cpus: {{ $p.numCpus }}
        user_config:
          max_batch_size: {{ $p.maxBatchSize }}
          batch_wait_timeout_s: {{ $p.batchWaitTimeoutS }}
      {{- end }}
      {{- end }}
      {{- if .Values.emailGenerator.enabled }}
      {{- $e := .Values.emailGenerator }}
      - name: EmailGenerator
        {{- include "ocs.replicas" $e | trim | nindent 8 }}
        ray_actor_options:
          num_cpus: {{ $e.numCpus }}
          num_gpus: {{ $e.numGpus }}
        user_config:
          engine: {{ $e.engine | quote }}
          model: {{ $e.model | quote }}
      {{- end }}
{{- end }}

