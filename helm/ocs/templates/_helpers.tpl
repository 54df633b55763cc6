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


{{/* Where every Serve replica process of a pod writes its metrics (on the pod's /tmp emptyDir). */}}
{{- define "ocs.metricsDir" -}}
/tmp/ocs-metrics
{{- end }}
