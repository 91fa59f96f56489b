{{/*
Names and labels. Every helper takes a dict {top: the root context, values: the chart's values}
so the sidecar templates can be called from another chart, where .Values and .Chart are that
chart's. The base name is the constant "clipn-sidecar" for the same reason.
*/}}

{{- define "clipn-sidecar.name" -}}
{{- default "clipn-sidecar" .values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "clipn-sidecar.fullname" -}}
{{- if .values.fullnameOverride -}}
{{- .values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "clipn-sidecar.name" . -}}
{{- if contains $name .top.Release.Name -}}
{{- .top.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .top.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name derived from the full name: (dict "top" $ "values" .Values "suffix" "trainer"). */}}
{{- define "clipn-sidecar.childname" -}}
{{- $base := include "clipn-sidecar.fullname" . | trunc (int (sub 62 (len .suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $base .suffix -}}
{{- end -}}

{{- define "clipn-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clipn-sidecar.name" . }}
app.kubernetes.io/instance: {{ .top.Release.Name }}
{{- end -}}

{{/*
This chart's metadata field (Version or AppVersion), also when called from a parent chart, whose
.Chart is its own: there it comes from .Subcharts.
*/}}
{{- define "clipn-sidecar.chartField" -}}
{{- $chart := .top.Chart -}}
{{- if and (ne .top.Chart.Name "clipn-sidecar") .top.Subcharts (hasKey .top.Subcharts "clipn-sidecar") -}}
{{- $chart = (index .top.Subcharts "clipn-sidecar").Chart -}}
{{- end -}}
{{- if eq .field "Version" }}{{ $chart.Version }}{{ else }}{{ $chart.AppVersion }}{{ end -}}
{{- end -}}

{{- define "clipn-sidecar.labels" -}}
helm.sh/chart: {{ printf "clipn-sidecar-%s" (include "clipn-sidecar.chartField" (dict "top" .top "field" "Version")) | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "clipn-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ include "clipn-sidecar.chartField" (dict "top" .top "field" "AppVersion") | default "unknown" | quote }}
app.kubernetes.io/managed-by: {{ .top.Release.Service }}
app.kubernetes.io/part-of: clipn-sidecar
{{- end -}}

{{- define "clipn-sidecar.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- default (include "clipn-sidecar.fullname" .) .values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image of a variant: (dict ... "suffix" "-cuda"). Tag default: the appVersion. */}}
{{- define "clipn-sidecar.image" -}}
{{- $tag := default (include "clipn-sidecar.chartField" (dict "top" .top "field" "AppVersion")) .values.image.tag -}}
{{- printf "%s:%s%s" .values.image.repository $tag (default "" .suffix) -}}
{{- end -}}

{{/* The grace period: the shutdown deadline rounded up, plus the margin. */}}
{{- define "clipn-sidecar.terminationGracePeriodSeconds" -}}
{{- $ms := int .values.processing.shutdownTimeoutMs -}}
{{- $deadline := div (add $ms 999) 1000 -}}
{{- $grace := add $deadline (int .values.processing.shutdownGraceSeconds) -}}
{{- if le (int $grace) (int $deadline) -}}
{{- fail (printf "processing.shutdownGraceSeconds: expected the grace period to exceed the shutdown deadline of %ds, got %ds" $deadline $grace) -}}
{{- end -}}
{{- $grace -}}
{{- end -}}

{{/* The model directory inside the pod. */}}
{{- define "clipn-sidecar.modelDir" -}}
{{- printf "%s/%s" (trimSuffix "/" .values.model.mountPath) .values.model.name -}}
{{- end -}}

{{/* Execution providers: cuda first on a GPU. */}}
{{- define "clipn-sidecar.executionProviders" -}}
{{- $providers := .values.model.executionProviders -}}
{{- if and .values.gpu.enabled (not (has "cuda" $providers)) -}}
{{- $providers = prepend $providers "cuda" -}}
{{- end -}}
{{- toJson $providers -}}
{{- end -}}

{{/* config.json: everything but secrets; extraConfig wins. */}}
{{- define "clipn-sidecar.config" -}}
{{- $v := .values -}}
{{- $cfg := dict
  "kafka" (dict
    "brokers" $v.kafka.brokers
    "clientId" $v.kafka.clientId
    "groupId" $v.kafka.groupId
    "ssl" $v.kafka.tls.enabled
    "allowPlaintextSasl" $v.kafka.allowPlaintextSasl
    "topics" $v.kafka.topics)
  "model" (dict
    "dir" (include "clipn-sidecar.modelDir" .)
    "executionProviders" (include "clipn-sidecar.executionProviders" . | fromJsonArray)
    "intraOpThreads" $v.model.intraOpThreads
    "cacheDir" "/var/cache/clipn")
  "processing" (dict
    "maxBatch" $v.processing.maxBatch
    "maxWaitMs" $v.processing.maxWaitMs
    "delivery" $v.processing.delivery
    "shutdownTimeoutMs" $v.processing.shutdownTimeoutMs
    "defaultLabelSet" $v.processing.defaultLabelSet
    "memory" (dict "maxInFlightBytes" $v.processing.maxInFlightBytes)
    "modelName" $v.model.name)
  "telemetry" (dict
    "serviceName" (default (include "clipn-sidecar.fullname" .) $v.telemetry.otel.serviceName)
    "logLevel" $v.telemetry.logLevel
    "http" (dict "port" $v.telemetry.port))
  "trainer" (dict
    "samplesDir" "/var/lib/clipn/samples"
    "groupId" $v.trainer.groupId
    "minNewSamples" $v.trainer.minNewSamples)
-}}
{{- if $v.telemetry.otel.endpoint -}}
{{- $_ := set $cfg.telemetry "otlpEndpoint" $v.telemetry.otel.endpoint -}}
{{- end -}}
{{- if $v.trainer.artifactStore -}}
{{- $_ := set $cfg.trainer "artifactStore" $v.trainer.artifactStore -}}
{{- end -}}
{{- with $v.labelStudio -}}
{{- if .enabled -}}
{{- $hook := dict "enabled" .webhook.enabled "host" "0.0.0.0" "port" (int .webhook.port) -}}
{{- if .webhook.enabled -}}
{{- $_ := set $hook "publicUrl" (include "clipn-sidecar.labelStudioWebhookUrl" $) -}}
{{- end -}}
{{- /* The plugin ships in the image, compiled; the token comes from the Secret through the environment. */ -}}
{{- $opts := mustMergeOverwrite (deepCopy .options) (dict "url" .url "tokenEnv" "CLIPN_LABEL_STUDIO_TOKEN" "webhook" $hook) -}}
{{- $_ := set $cfg "plugins" (dict "modules" (list (dict "module" "/app/dist/plugins/label-studio/index.js" "options" $opts))) -}}
{{- end -}}
{{- end -}}
{{- if $v.trust.publicKeysSecret -}}
{{- $_ := set $cfg "trust" (dict "publicKeys" (list "/etc/clipn-trust/public")) -}}
{{- end -}}
{{- mustMergeOverwrite $cfg (deepCopy $v.extraConfig) | toPrettyJson -}}
{{- end -}}

{{/* Fails early on combinations the schema cannot express. */}}
{{- define "clipn-sidecar.validate" -}}
{{- $v := .values -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) -}}
{{- fail "kafka.sasl.existingSecret: expected the name of a Secret with the SASL credentials when kafka.sasl.enabled, got none (credentials are never taken from values)" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.tls.enabled) (not $v.kafka.allowPlaintextSasl) -}}
{{- fail "kafka.tls.enabled: expected true with kafka.sasl.enabled: SASL without TLS sends the credentials and records in clear (set kafka.allowPlaintextSasl to allow)" -}}
{{- end -}}
{{- if and (eq $v.model.source "pvc") (not $v.model.pvc.claimName) -}}
{{- fail "model.pvc.claimName: expected an existing PersistentVolumeClaim when model.source is pvc, got none" -}}
{{- end -}}
{{- if and $v.keda.enabled (gt (int $v.keda.minReplicaCount) (int $v.keda.maxReplicaCount)) -}}
{{- fail (printf "keda.minReplicaCount: expected at most keda.maxReplicaCount (%d), got %d" (int $v.keda.maxReplicaCount) (int $v.keda.minReplicaCount)) -}}
{{- end -}}
{{- range $v.labelSets -}}
{{- if and (eq .routing.rule "calibrated") (not .thresholds) -}}
{{- fail (printf "labelSets[%s].thresholds: expected ctwLogOdds or atdLogOdds thresholds for routing rule calibrated, got none (run clipn calibrate)" .id) -}}
{{- end -}}
{{- end -}}
{{- if $v.labelStudio.enabled -}}
{{- if not $v.labelStudio.url -}}
{{- fail "labelStudio.url: expected Label Studio's URL as the pods reach it when labelStudio.enabled, got none" -}}
{{- end -}}
{{- if not $v.labelStudio.tokenSecret.name -}}
{{- fail "labelStudio.tokenSecret.name: expected the name of a Secret with the Label Studio API token when labelStudio.enabled, got none (tokens are never taken from values)" -}}
{{- end -}}
{{- if and $v.labelStudio.webhook.enabled (not $v.standalone.enabled) (not $v.labelStudio.webhook.publicUrl) -}}
{{- fail "labelStudio.webhook.publicUrl: expected the URL Label Studio calls when the sidecar runs in another chart's pods (no Service of this chart), got none; or set labelStudio.webhook.enabled=false to poll" -}}
{{- end -}}
{{- end -}}
{{- $_ := include "clipn-sidecar.terminationGracePeriodSeconds" . -}}
{{- end -}}

{{/* The URL Label Studio calls for annotations: labelStudio.webhook.publicUrl, or this release's Service. */}}
{{- define "clipn-sidecar.labelStudioWebhookUrl" -}}
{{- $w := .values.labelStudio.webhook -}}
{{- if $w.publicUrl -}}
{{- $w.publicUrl -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%d/label-studio/webhook" (include "clipn-sidecar.fullname" .) .top.Release.Namespace (int $w.port) -}}
{{- end -}}
{{- end -}}
