{{/* The trainer pod template: (dict "top" $ "values" .Values "once" bool); once adds --once for the CronJob. */}}
{{- define "clipn-sidecar.trainerPod" -}}
{{- $v := .values -}}
metadata:
  labels:
    {{- include "clipn-sidecar.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: trainer
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "clipn-sidecar.config" . | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- include "clipn-sidecar.podSettings" (dict "top" .top "values" $v "gpu" false) | nindent 2 }}
  {{- if .once }}
  restartPolicy: OnFailure
  {{- end }}
  {{- $init := include "clipn-sidecar.initContainers" . }}
  {{- if trim $init }}
  initContainers:
    {{- $init | trim | nindent 4 }}
  {{- end }}
  containers:
    - name: trainer
      image: {{ include "clipn-sidecar.image" (dict "top" .top "values" $v "suffix" $v.trainer.imageTagSuffix) }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args: ["train", "--config", "/etc/clipn/config.json"{{ if .once }}, "--once"{{ end }}]
      env:
        # The trainer image is CPU-only and its Python caches need a writable home.
        - name: CLIPN_MODEL__EXECUTION_PROVIDERS
          value: cpu
        - name: HOME
          value: /tmp
        {{- include "clipn-sidecar.env" . | trim | nindent 8 }}
        {{- include "clipn-sidecar.signingEnv" . | nindent 8 }}
      {{- with $v.trainer.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        {{- include "clipn-sidecar.volumeMounts" . | nindent 8 }}
        - name: clipn-samples
          mountPath: /var/lib/clipn/samples
        {{- include "clipn-sidecar.signingMount" . | nindent 8 }}
  volumes:
    {{- include "clipn-sidecar.volumes" . | nindent 4 }}
    {{- include "clipn-sidecar.signingVolume" . | nindent 4 }}
    - name: clipn-samples
      {{- if $v.trainer.samples.existingClaim }}
      persistentVolumeClaim:
        claimName: {{ $v.trainer.samples.existingClaim }}
      {{- else }}
      emptyDir:
        sizeLimit: {{ $v.trainer.samples.sizeLimit }}
      {{- end }}
{{- end -}}
