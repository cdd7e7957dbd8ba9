{{- define "flowguard.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flowguard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "flowguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flowguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flowguard.labels" -}}
{{ include "flowguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "flowguard.certSecret" -}}
{{ include "flowguard.fullname" . }}-webhook-tls
{{- end -}}

{{- define "flowguard.exemptNamespaces" -}}
{{- $ns := list .Release.Namespace -}}
{{- range .Values.webhook.exemptNamespaces }}{{ if ne . $.Release.Namespace }}{{ $ns = append $ns . }}{{ end }}{{ end -}}
{{- $ns | toJson -}}
{{- end -}}

{{- /* The image reference: repository@digest when a digest is set, else repository:tag. */}}
{{- define "flowguard.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}
