{{/* Names, labels and the pieces every Deployment shares. */}}

{{- define "agentic.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentic.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "agentic.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "agentic.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "agentic.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "agentic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentic-platform
{{- end -}}

{{/* Selects every pod of the release. */}}
{{- define "agentic.releaseSelector" -}}
app.kubernetes.io/name: {{ include "agentic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selects one service's pods: (dict "root" $ "name" $name) */}}
{{- define "agentic.selector" -}}
{{ include "agentic.releaseSelector" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "agentic.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if and .Values.image.localModel (not (hasSuffix "-local" $tag)) -}}
{{- $tag = printf "%s-local" $tag -}}
{{- end -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/* The enabled services, each merged over serviceDefaults, as JSON: name -> values. */}}
{{- define "agentic.services" -}}
{{- $out := dict -}}
{{- range $name, $svc := .Values.services -}}
{{- if $svc.enabled -}}
{{- $_ := set $out $name (mergeOverwrite (deepCopy $.Values.serviceDefaults) (deepCopy $svc)) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "agentic.serviceUrl" -}}
{{- printf "http://%s-%s.%s.svc:8080" (include "agentic.fullname" .root) .name .root.Release.Namespace -}}
{{- end -}}

{{/* The Secret every service reads, and the one only the LLM gateway reads. */}}
{{- define "agentic.secretName" -}}
{{- if eq .Values.secrets.source "existing" -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "agentic.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "agentic.providerSecretName" -}}
{{- if eq .Values.secrets.source "existing" -}}
{{- .Values.secrets.existingProviderSecret -}}
{{- else -}}
{{- printf "%s-providers" (include "agentic.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "agentic.hasProviderSecret" -}}
{{- $s := .Values.secrets -}}
{{- if or (and (eq $s.source "secret") $s.providerValues) (and (eq $s.source "externalSecrets") $s.externalSecrets.providerData) (and (eq $s.source "existing") $s.existingProviderSecret) -}}
true
{{- end -}}
{{- end -}}

{{- define "agentic.storeName" -}}
{{- .Values.secrets.externalSecrets.store.name | default (include "agentic.fullname" .) -}}
{{- end -}}

{{- define "agentic.collectorName" -}}
{{- printf "%s-otel" (include "agentic.fullname" .) -}}
{{- end -}}

{{/* The restricted Pod Security profile, for pods and for containers. */}}
{{- define "agentic.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "agentic.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
