{{/*
The clipn container, its init container and its volumes, for the standalone Deployment and for
other charts that add the sidecar to their own pods. Call with the root context and this chart's
values (in a parent chart: .Values.<dependency name or alias>):

  initContainers:
    {{- include "clipn-sidecar.initContainers" (dict "top" $ "values" (index .Values "clipn-sidecar")) | nindent 4 }}
  containers:
    - name: app
      ...
    {{- include "clipn-sidecar.container" (dict "top" $ "values" (index .Values "clipn-sidecar")) | nindent 4 }}
  volumes:
    {{- include "clipn-sidecar.volumes" (dict "top" $ "values" (index .Values "clipn-sidecar")) | nindent 4 }}

Each renders a YAML list (possibly empty). The ConfigMap they mount is rendered by this chart.
*/}}

{{/* Environment shared by the serve and train containers: secrets and OpenTelemetry. */}}
{{- define "clipn-sidecar.env" -}}
{{- $v := .values -}}
{{- if $v.kafka.sasl.enabled }}
- name: CLIPN_KAFKA__SASL__MECHANISM
  value: {{ $v.kafka.sasl.mechanism | quote }}
- name: CLIPN_KAFKA__SASL__USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.sasl.existingSecret }}
      key: {{ $v.kafka.sasl.usernameKey }}
- name: CLIPN_KAFKA__SASL__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.sasl.existingSecret }}
      key: {{ $v.kafka.sasl.passwordKey }}
{{- end }}
{{- with $v.trainer.splitSaltSecret }}
{{- if .name }}
- name: CLIPN_TRAINER__SPLIT_SALT
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
- name: UV_THREADPOOL_SIZE
  value: {{ $v.processing.uvThreadpoolSize | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ default (include "clipn-sidecar.fullname" .) $v.telemetry.otel.serviceName | quote }}
{{- with $v.telemetry.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $v.telemetry.otel.tracesSampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ . | quote }}
{{- end }}
{{- with $v.telemetry.otel.tracesSamplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with $v.telemetry.otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Mounts shared by the serve and train containers. */}}
{{- define "clipn-sidecar.volumeMounts" -}}
- name: clipn-config
  mountPath: /etc/clipn
  readOnly: true
- name: clipn-tmp
  mountPath: /tmp
- name: clipn-cache
  mountPath: /var/cache/clipn
{{- if .values.trust.publicKeysSecret }}
- name: clipn-trust-public
  mountPath: /etc/clipn-trust/public
  readOnly: true
{{- end }}
{{- if ne .values.model.source "image" }}
- name: clipn-models
  mountPath: {{ .values.model.mountPath }}
  readOnly: true
{{- if and (eq .values.model.source "pvc") .values.model.pvc.subPath }}
  subPath: {{ .values.model.pvc.subPath }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "clipn-sidecar.container" -}}
{{- include "clipn-sidecar.validate" . -}}
{{- $v := .values -}}
{{- $port := int $v.telemetry.port -}}
- name: clipn
  image: {{ include "clipn-sidecar.image" (dict "top" .top "values" $v "suffix" (ternary $v.gpu.imageTagSuffix "" $v.gpu.enabled)) }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args: ["serve", "--config", "/etc/clipn/config.json"]
  env:
    {{- include "clipn-sidecar.env" . | trim | nindent 4 }}
    {{- if $v.labelStudio.enabled }}
    - name: CLIPN_LABEL_STUDIO_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ $v.labelStudio.tokenSecret.name }}
          key: {{ $v.labelStudio.tokenSecret.key }}
    {{- end }}
  ports:
    - name: clipn-http
      containerPort: {{ $port }}
      protocol: TCP
    {{- if and $v.labelStudio.enabled $v.labelStudio.webhook.enabled }}
    - name: label-studio
      containerPort: {{ int $v.labelStudio.webhook.port }}
      protocol: TCP
    {{- end }}
  startupProbe:
    httpGet: {path: /healthz, port: clipn-http}
    {{- toYaml $v.probes.startup | nindent 4 }}
  livenessProbe:
    httpGet: {path: /healthz, port: clipn-http}
    {{- toYaml $v.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet: {path: /readyz, port: clipn-http}
    {{- toYaml $v.probes.readiness | nindent 4 }}
  {{- $resources := deepCopy $v.resources }}
  {{- if $v.gpu.enabled }}
  {{- $limits := default (dict) $resources.limits }}
  {{- $_ := set $limits $v.gpu.resourceName (int $v.gpu.count) }}
  {{- $_ := set $resources "limits" $limits }}
  {{- end }}
  {{- with $resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    {{- include "clipn-sidecar.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* The model fetcher (model.source: init); empty otherwise. */}}
{{- define "clipn-sidecar.initContainers" -}}
{{- $v := .values -}}
{{- if eq $v.model.source "init" -}}
- name: clipn-model-fetch
  image: {{ $v.model.init.image }}
  imagePullPolicy: {{ $v.model.init.pullPolicy }}
  command:
    {{- toYaml $v.model.init.command | nindent 4 }}
  {{- with $v.model.init.args }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  env:
    - name: MODEL_DIR
      value: {{ include "clipn-sidecar.modelDir" . | quote }}
    - name: HOME
      value: /tmp
    {{- with $v.model.init.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.model.init.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - name: clipn-models
      mountPath: {{ $v.model.mountPath }}
    - name: clipn-tmp
      mountPath: /tmp
{{- end }}
{{- end -}}

{{- define "clipn-sidecar.volumes" -}}
{{- $v := .values -}}
- name: clipn-config
  configMap:
    name: {{ include "clipn-sidecar.fullname" . }}
- name: clipn-tmp
  emptyDir:
    sizeLimit: {{ $v.scratchSizeLimit }}
- name: clipn-cache
  emptyDir:
    sizeLimit: {{ $v.scratchSizeLimit }}
{{- if $v.trust.publicKeysSecret }}
- name: clipn-trust-public
  secret:
    secretName: {{ $v.trust.publicKeysSecret }}
    defaultMode: 0444
{{- end }}
{{- if eq $v.model.source "pvc" }}
- name: clipn-models
  persistentVolumeClaim:
    claimName: {{ $v.model.pvc.claimName }}
    readOnly: true
{{- else if eq $v.model.source "init" }}
- name: clipn-models
  emptyDir:
    sizeLimit: {{ $v.model.init.sizeLimit }}
{{- end }}
{{- end -}}

{{/* The signing key, for the pods that publish (trainer, label-sets job) and never the sidecar: env, mount, volume. */}}
{{- define "clipn-sidecar.signingEnv" -}}
{{- if .values.trust.signingKeySecret }}
- name: CLIPN_TRUST__SIGNING_KEY
  value: /etc/clipn-trust/signing/{{ .values.trust.signingKeyKey }}
{{- end }}
{{- end -}}

{{- define "clipn-sidecar.signingMount" -}}
{{- if .values.trust.signingKeySecret }}
- name: clipn-trust-signing
  mountPath: /etc/clipn-trust/signing
  readOnly: true
{{- end }}
{{- end -}}

{{- define "clipn-sidecar.signingVolume" -}}
{{- if .values.trust.signingKeySecret }}
- name: clipn-trust-signing
  secret:
    secretName: {{ .values.trust.signingKeySecret }}
    defaultMode: 0400
    items:
      - key: {{ .values.trust.signingKeyKey }}
        path: {{ .values.trust.signingKeyKey }}
{{- end }}
{{- end -}}
