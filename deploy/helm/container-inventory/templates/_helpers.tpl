{{/* Names, labels and the hardened security contexts shared by every workload. */}}
{{- define "ci.name" -}}{{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "ci.fullname" -}}
{{- if contains (include "ci.name" .) .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name (include "ci.name" .) | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- define "ci.api" -}}{{ include "ci.fullname" . | trunc 53 | trimSuffix "-" }}-flask-api{{- end -}}
{{- define "ci.nginx" -}}{{ include "ci.fullname" . | trunc 51 | trimSuffix "-" }}-nginx-proxy{{- end -}}
{{- define "ci.tokenSecret" -}}{{ default (printf "%s-api-token" (include "ci.fullname" .)) .Values.auth.secret.name }}{{- end -}}

{{- define "ci.labels" -}}
app.kubernetes.io/part-of: container-inventory
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* selector labels: (dict "ctx" $ "component" "flask-api") */}}
{{- define "ci.selector" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/* image reference: (dict "ctx" $ "image" .Values.api.image) -> registry/repo:tag[@digest] */}}
{{- define "ci.image" -}}
{{- $ref := printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.imageRegistry) .image.repository .image.tag -}}
{{- if .image.digest }}{{ printf "%s@%s" $ref .image.digest }}{{ else }}{{ $ref }}{{ end -}}
{{- end -}}

{{- define "ci.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ci.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* topology spread across nodes and zones: (dict "ctx" $ "component" "flask-api") */}}
{{- define "ci.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: {{ $.ctx.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ $.ctx.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "ci.selector" (dict "ctx" $.ctx "component" $.component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

