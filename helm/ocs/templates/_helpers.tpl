{{/* Chart name. */}}
{{- define "ocs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, truncated to 63 characters (DNS label). */}}
{{- define "ocs.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ocs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: never a label that changes between upgrades. Needs dict root, component. */}}
{{- define "ocs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ocs.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Common labels. Needs dict root, component. */}}
{{- define "ocs.labels" -}}
helm.sh/chart: {{ include "ocs.chart" .root }}
{{ include "ocs.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: ocs
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ocs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ocs.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ocs.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}

{{- define "ocs.gpuImage" -}}
{{- printf "%s:%s" (default .Values.image.repository .Values.image.gpuRepository) .Values.image.gpuTag }}
{{- end }}

{{- define "ocs.redisHost" -}}
{{- printf "%s-redis" (include "ocs.fullname" .) }}
{{- end }}

{{/* Pod-level security: non-root, RuntimeDefault seccomp, group-writable volumes. */}}
{{- define "ocs.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "ocs.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* Environment of every ocs container: the ConfigMap plus the Secret's keys. */}}
{{- define "ocs.env" -}}
- name: OCS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.name }}
      key: {{ .Values.secrets.databaseUrlKey }}
- name: OCS_API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.name }}
      key: {{ .Values.secrets.apiKeysKey }}
{{- if not .Values.redis.enabled }}
- name: OCS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.name }}
      key: {{ .Values.secrets.redisUrlKey }}
{{- end }}
{{- end }}

{{- define "ocs.envFrom" -}}
- configMapRef:
    name: {{ include "ocs.fullname" . }}-config
{{- end }}

{{/* Pod annotations that roll pods when the ConfigMap changes. */}}
{{- define "ocs.checksum" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/* Volumes every ocs pod mounts: writable state and tmp (root filesystem is read-only), registry. */}}
{{- define "ocs.volumes" -}}
- name: tmp
  emptyDir: {}
- name: state
  emptyDir: {}
- name: registry
{{- if eq .Values.registry.type "gcs" }}
  csi:
    driver: gcsfuse.csi.storage.gke.io
    volumeAttributes:
      bucketName: {{ .Values.registry.gcs.bucket }}
      mountOptions: {{ .Values.registry.gcs.mountOptions | quote }}
{{- else if eq .Values.registry.type "pvc" }}
  persistentVolumeClaim:
    claimName: {{ .Values.registry.pvc.claimName }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end }}

{{/* Needs dict root, rw (only retraining writes to the registry). */}}
{{- define "ocs.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: {{ .root.Values.config.stateDir }}
- name: registry
  mountPath: {{ .root.Values.registry.mountPath }}
  readOnly: {{ not .rw }}
{{- end }}

{{/* GKE mounts Cloud Storage FUSE volumes only into pods that ask for the sidecar. */}}
{{- define "ocs.gcsfuseAnnotations" -}}
{{- if or (eq .Values.registry.type "gcs") (and .Values.emailGenerator.enabled (eq .Values.emailGenerator.weights.source "gcs")) }}
gke-gcsfuse/volumes: "true"
{{- end }}
{{- end }}

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

{{/* The pod template of a Ray group. Needs dict root, component, name, gpu (bool), resources. */}}
{{- define "ocs.rayPod" -}}
{{- $v := .root.Values -}}
metadata:
  labels:
    {{- include "ocs.labels" (dict "root" .root "component" .component) | nindent 4 }}
    ocs.io/ray: "true"
  annotations:
    {{- include "ocs.checksum" .root | nindent 4 }}
    {{- with include "ocs.gcsfuseAnnotations" .root | trim }}
    {{- . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ocs.serviceAccountName" .root }}
  automountServiceAccountToken: false
  {{- with $v.servingPriorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- include "ocs.podSecurityContext" .root | nindent 4 }}
  {{- with $v.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  {{- if .gpu }}
  nodeSelector:
    cloud.google.com/gke-accelerator: {{ $v.ray.gpuWorkers.accelerator }}
  tolerations:
    - key: nvidia.com/gpu
      operator: Exists
      effect: NoSchedule
  {{- else if .nodeSelector }}
  nodeSelector:
    {{- toYaml .nodeSelector | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .name }}
      image: {{ if .gpu }}{{ include "ocs.gpuImage" .root }}{{ else }}{{ include "ocs.image" .root }}{{ end }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- if eq .component "ray-head" }}
      ports:
        - {name: gcs-server, containerPort: 6379}
        - {name: dashboard, containerPort: 8265}
        - {name: client, containerPort: 10001}
        - {name: serve, containerPort: {{ $v.service.port }}}
        - {name: metrics, containerPort: 8080}
      {{- else }}
      ports:
        - {name: serve, containerPort: {{ $v.service.port }}}
        - {name: metrics, containerPort: 8080}
      {{- end }}
      env:
        {{- include "ocs.env" .root | nindent 8 }}
        {{- if and .gpu (eq $v.emailGenerator.weights.source "huggingface") }}
        - name: HF_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ $v.emailGenerator.weights.huggingface.tokenSecret }}
              key: {{ $v.emailGenerator.weights.huggingface.tokenKey }}
        - name: HF_HOME
          value: {{ $v.emailGenerator.weights.mountPath }}
        {{- end }}
      envFrom:
        {{- include "ocs.envFrom" .root | nindent 8 }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        {{- include "ocs.containerSecurityContext" .root | nindent 8 }}
      volumeMounts:
        {{- include "ocs.volumeMounts" (dict "root" .root "rw" false) | nindent 8 }}
        - name: shm
          mountPath: /dev/shm
        {{- if .gpu }}
        - name: llm-weights
          mountPath: {{ $v.emailGenerator.weights.mountPath }}
          readOnly: {{ ne $v.emailGenerator.weights.source "huggingface" }}
        {{- end }}
  volumes:
    {{- include "ocs.volumes" .root | nindent 4 }}
    - name: shm
      emptyDir:
        medium: Memory
    {{- if .gpu }}
    {{- $w := $v.emailGenerator.weights }}
    - name: llm-weights
    {{- if eq $w.source "gcs" }}
      csi:
        driver: gcsfuse.csi.storage.gke.io
        readOnly: true
        volumeAttributes:
          bucketName: {{ $w.gcs.bucket }}
          mountOptions: {{ $w.gcs.mountOptions | quote }}
    {{- else if eq $w.source "pvc" }}
      persistentVolumeClaim:
        claimName: {{ $w.pvc.claimName }}
        readOnly: true
    {{- else }}
      emptyDir:
        sizeLimit: {{ $w.huggingface.cacheSize }}
    {{- end }}
    {{- end }}
{{- end }}

{{/* Pod spec of the non-Ray workloads. Needs dict root, component, command, resources, rw, priority. */}}
{{- define "ocs.appPod" -}}
{{- $v := .root.Values -}}
serviceAccountName: {{ include "ocs.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- with .priority }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- include "ocs.podSecurityContext" .root | nindent 2 }}
{{- with $v.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- if .restartPolicy }}
restartPolicy: {{ .restartPolicy }}
{{- end }}
containers:
  - name: {{ .component }}
    image: {{ include "ocs.image" .root }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    command:
      {{- toYaml .command | nindent 6 }}
    env:
      {{- include "ocs.env" .root | nindent 6 }}
      - name: OCS_MODEL_TAG
        value: {{ $v.predictor.stable.modelTag | quote }}
    envFrom:
      {{- include "ocs.envFrom" .root | nindent 6 }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- include "ocs.containerSecurityContext" .root | nindent 6 }}
    volumeMounts:
      {{- include "ocs.volumeMounts" (dict "root" .root "rw" .rw) | nindent 6 }}
volumes:
  {{- include "ocs.volumes" .root | nindent 2 }}
{{- end }}

{{/* A CronJob. Needs dict root, name, job (values of cronJobs.<name>), rw. */}}
{{- define "ocs.cronJob" -}}
{{- $v := .root.Values -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "ocs.fullname" .root }}-{{ .name }}
  labels:
    {{- include "ocs.labels" (dict "root" .root "component" .name) | nindent 4 }}
spec:
  schedule: {{ .job.schedule | quote }}
  timeZone: {{ $v.cronJobs.timeZone }}
  # A slow run must not overlap the next one: both would write the same day's results.
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 3600
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 5
  jobTemplate:
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: 21600
      template:
        metadata:
          labels:
            {{- include "ocs.labels" (dict "root" .root "component" .name) | nindent 12 }}
          annotations:
            {{- include "ocs.checksum" .root | nindent 12 }}
            {{- with include "ocs.gcsfuseAnnotations" .root | trim }}
            {{- . | nindent 12 }}
            {{- end }}
        spec:
          {{- include "ocs.appPod" (dict "root" .root "component" .name "command" .job.command "resources" $v.cronJobs.resources "rw" .rw "priority" $v.batchPriorityClassName "restartPolicy" "Never") | nindent 10 }}
{{- end }}
