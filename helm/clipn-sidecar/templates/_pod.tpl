{{/* Pod-level settings shared by the serve and trainer pods (scheduling, security, GPU placement). */}}
{{- define "clipn-sidecar.podSettings" -}}
{{- $v := .values -}}
serviceAccountName: {{ include "clipn-sidecar.serviceAccountName" . }}
automountServiceAccountToken: {{ $v.serviceAccount.automountToken }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- $nodeSelector := $v.nodeSelector }}
{{- $tolerations := $v.tolerations }}
{{- if and .gpu $v.gpu.enabled }}
{{- $nodeSelector = merge (deepCopy $v.gpu.nodeSelector) $v.nodeSelector }}
{{- $tolerations = concat $v.tolerations $v.gpu.tolerations }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
