{{- define "agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agent.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "agent.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "agent.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "agent.selector" -}}
app.kubernetes.io/name: {{ include "agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agent.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "agent.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "agent.platformNamespace" -}}
{{- .Values.platform.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* Base URL of one platform service: (dict "root" $ "service" "llm-gateway") */}}
{{- define "agent.platformUrl" -}}
{{- $p := .root.Values.platform -}}
{{- if $p.url -}}
{{- $p.url | trimSuffix "/" -}}
{{- else -}}
{{- $fullname := $p.fullname | default (printf "%s-agentic-platform" $p.release) -}}
{{- printf "http://%s-%s.%s.svc:8080" $fullname .service (include "agent.platformNamespace" .root) -}}
{{- end -}}
{{- end -}}

{{- define "agent.apiKeySecret" -}}
{{- if eq .Values.apiKey.source "externalSecret" -}}
{{- printf "%s-platform-key" (include "agent.fullname" .) -}}
{{- else -}}
{{- .Values.apiKey.secretName -}}
{{- end -}}
{{- end -}}

{{- define "agent.apiKeyKey" -}}
{{- ternary "api-key" .Values.apiKey.secretKey (eq .Values.apiKey.source "externalSecret") -}}
{{- end -}}
