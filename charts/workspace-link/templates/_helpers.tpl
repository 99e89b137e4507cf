{{/*
Names. Namespaced objects use the full name; the ClusterRoles use rbac.clusterRolePrefix, which
does not depend on the release, so every workspace in a cluster binds the same roles.
*/}}
{{- define "workspace-link.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "workspace-link.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Service names get a suffix: keep the stem short enough that the result fits 63 chars. */}}
{{- define "workspace-link.stem" -}}
{{- include "workspace-link.fullname" . | trunc 48 | trimSuffix "-" -}}
{{- end -}}

{{- define "workspace-link.syncServiceName" -}}
{{- printf "%s-sync" (include "workspace-link.stem" .) -}}
{{- end -}}

{{- define "workspace-link.runnerApiServiceName" -}}
{{- printf "%s-runner-api" (include "workspace-link.stem" .) -}}
{{- end -}}

{{- define "workspace-link.syncTlsSecretName" -}}
{{- default (printf "%s-sync-tls" (include "workspace-link.stem" .)) .Values.sync.tls.secretName -}}
{{- end -}}

{{- define "workspace-link.operatorServiceAccountName" -}}
{{- include "workspace-link.fullname" . -}}
{{- end -}}

{{- define "workspace-link.runnerServiceAccountName" -}}
{{- printf "%s-runner" (include "workspace-link.stem" .) -}}
{{- end -}}

{{- define "workspace-link.clusterRole" -}}
{{- printf "%s-%s" .root.Values.rbac.clusterRolePrefix .role -}}
{{- end -}}

{{/* Images. The runner defaults to the operator's own image (one image runs both). */}}
{{- define "workspace-link.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "workspace-link.runnerImage" -}}
{{- if .Values.runner.image.repository -}}
{{- printf "%s:%s" .Values.runner.image.repository (default (default .Chart.AppVersion .Values.image.tag) .Values.runner.image.tag) -}}
{{- else -}}
{{- include "workspace-link.image" . -}}
{{- end -}}
{{- end -}}

{{/* Standard labels, from one place. */}}
{{- define "workspace-link.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "workspace-link.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: workspace-link
{{- end -}}

{{- define "workspace-link.selectorLabels" -}}
app.kubernetes.io/name: {{ include "workspace-link.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/*
Incompatible values fail the render with a message that says what to change, instead of
installing something that cannot work or would serve the sync endpoint in the clear.
*/}}
{{- define "workspace-link.validate" -}}
{{- $v := .Values -}}
{{- if and $v.sync.ingress.enabled (not $v.sync.ingress.host) -}}
{{- fail "sync.ingress.enabled is true but sync.ingress.host is empty: set the host name peers dial (for example workspace-a.example.com)" -}}
{{- end -}}
{{- if and $v.sync.ingress.enabled (not $v.sync.enabled) -}}
{{- fail "sync.ingress.enabled needs the sync Service: set sync.enabled=true, or disable the Ingress" -}}
{{- end -}}
{{- if and $v.sync.enabled (not $v.sync.tls.enabled) (not (and $v.sync.ingress.enabled $v.sync.ingress.tls.secretName)) -}}
{{- fail "the sync endpoint would be plain HTTP end to end: keep sync.tls.enabled=true (certificate in sync.tls.secretName), or terminate TLS at an Ingress (sync.ingress.enabled=true with sync.ingress.tls.secretName), or set sync.enabled=false for a workspace that only dials out" -}}
{{- end -}}
{{- if and $v.keysNamespace (eq $v.keysNamespace .Release.Namespace) -}}
{{- fail (printf "keysNamespace %q is the release namespace: leave it empty to keep the keys here, or name a separate namespace only org-admins administer" $v.keysNamespace) -}}
{{- end -}}
{{- if or (eq (int $v.ports.sync) (int $v.ports.runnerApi)) (eq (int $v.ports.sync) (int $v.ports.health)) (eq (int $v.ports.runnerApi) (int $v.ports.health)) -}}
{{- fail (printf "ports.sync (%v), ports.runnerApi (%v) and ports.health (%v) must all differ" $v.ports.sync $v.ports.runnerApi $v.ports.health) -}}
{{- end -}}
{{- end -}}
