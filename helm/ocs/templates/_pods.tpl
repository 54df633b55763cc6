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
  {{- if and (eq .component "ray-head") $v.dbMigration.enabled }}
  # The store's schema is brought to the release's version before the head starts: Serve
  # replicas refuse a schema that is behind, and Ray workers wait for the head anyway.
  initContainers:
    - name: db-migrate
      image: {{ include "ocs.image" .root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        {{- toYaml $v.dbMigration.command | nindent 8 }}
      env:
        {{- include "ocs.env" .root | nindent 8 }}
      envFrom:
        {{- include "ocs.envFrom" .root | nindent 8 }}
      resources:
        {{- toYaml $v.dbMigration.resources | nindent 8 }}
      securityContext:
        {{- include "ocs.containerSecurityContext" .root | nindent 8 }}
      volumeMounts:
        {{- include "ocs.volumeMounts" (dict "root" .root "rw" false) | nindent 8 }}
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
    {{- if $v.monitoring.podMonitor.enabled }}
    # The merged metrics of every Serve replica process of this pod (they write to
    # /tmp/ocs-metrics, see the Serve config's runtime_env): one scrape per pod shows them all.
    - name: metrics
      image: {{ include "ocs.image" .root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: [ocs, metrics, serve, --dir, {{ include "ocs.metricsDir" .root }}, --port, {{ $v.monitoring.podMonitor.exporterPort | quote }}]
      ports:
        - {name: ocs-metrics, containerPort: {{ $v.monitoring.podMonitor.exporterPort }}}
      resources:
        {{- toYaml $v.monitoring.podMonitor.exporterResources | nindent 8 }}
      securityContext:
        {{- include "ocs.containerSecurityContext" .root | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
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
      {{- with .env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
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
      {{- with .job.verdictExitCodes }}
      # A verdict (drift found, candidate refused) is an answer, not a crash: no retries.
      podFailurePolicy:
        rules:
          - action: FailJob
            onExitCodes:
              containerName: {{ $.name }}
              operator: In
              values: {{ toJson . }}
      {{- end }}
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
