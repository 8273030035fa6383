{{/* Names, labels and the hardened security contexts shared by every workload. */}}
{{- define "ci.name" -}}{{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- define "ci.fullname" -}}
{{- if contains (include "ci.name" .) .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name (include "ci.name" .) | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- define "ci.api" -}}{{ include "ci.fullname" . | trunc 53 | trimSuffix "-" }}-flask-api{{- end -}}
{{- define "ci.nginx" -}}{{ include "ci.fullname" . | trunc 51 | trimSuffix "-" }}-nginx-proxy{{- end -}}
{{/* nginx's SERVER_NAMES: its Service's in-cluster names, the Ingress host, nginx.serverNames (space separated). */}}
{{- define "ci.serverNames" -}}
{{- $svc := include "ci.nginx" . }}
{{- $ns := printf "%s.%s" $svc .Release.Namespace }}
{{- $names := list $svc $ns (printf "%s.svc" $ns) (printf "%s.svc.%s" $ns .Values.nginx.clusterDomain) }}
{{- if .Values.ingress.enabled }}{{ $names = append $names .Values.ingress.host }}{{ end }}
{{- join " " (concat $names .Values.nginx.serverNames | uniq) }}
{{- end -}}
{{- define "ci.tokenSecret" -}}{{ default (printf "%s-api-token" (include "ci.fullname" .)) .Values.auth.secret.name }}{{- end -}}

{{- define "ci.labels" -}}
app.kubernetes.io/part-of: container-inventory
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* labels of a ServiceMonitor / PodMonitor / PrometheusRule: (dict "m" .Values.monitoring "extra" <its labels>).
     `release` is always monitoring.prometheusRelease (the kube-prometheus-stack release that selects them). */}}
{{- define "ci.prometheusLabels" -}}
{{- if hasKey (.extra | default dict) "release" -}}
{{- fail "monitoring.*.labels must not set `release`: set monitoring.prometheusRelease (the kube-prometheus-stack release name)" -}}
{{- end -}}
release: {{ required "monitoring.prometheusRelease (the kube-prometheus-stack release name) is required" .m.prometheusRelease | quote }}
{{- with .extra }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/* selector labels: (dict "ctx" $ "component" "flask-api") */}}
{{- define "ci.selector" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/* image reference: (dict "ctx" $ "name" "flask-api") -> <imageRegistry>/<name>:<tag>[@<digest>]
     Tag and digest: images.<name>, else the entry for <name> in pushedImages (the reports/images.json `make push`
     writes, passed with --set-file pushedImages=...; its repository must be <imageRegistry>/<name>), else imageTag /
     appVersion without digest. requireImageDigests (prod) fails a render that has no digest. */}}
{{- define "ci.image" -}}
{{- $v := .ctx.Values -}}
{{- $registry := trimSuffix "/" $v.imageRegistry -}}
{{- $img := required (printf "images.%s is not defined" .name) (index $v.images .name) -}}
{{- $tag := $img.tag -}}
{{- $digest := $img.digest -}}
{{- if and $v.pushedImages (not $digest) -}}
{{- $pushed := fromJson $v.pushedImages -}}
{{- if hasKey $pushed "Error" }}{{ fail (printf "pushedImages is not the JSON make push writes: %s" $pushed.Error) }}{{ end -}}
{{- with index $pushed .name -}}
{{- if ne .repository (printf "%s/%s" $registry $.name) -}}
{{- fail (printf "pushedImages: %s was pushed to %s, but the chart pulls from %s/%s (imageRegistry)" $.name .repository $registry $.name) -}}
{{- end -}}
{{- $tag = .tag -}}
{{- $digest = .digest -}}
{{- end -}}
{{- end -}}
{{- $tag = $tag | default $v.imageTag | default .ctx.Chart.AppVersion -}}
{{- $ref := printf "%s/%s:%s" $registry .name $tag -}}
{{- if $digest }}{{ printf "%s@%s" $ref $digest }}
{{- else if $v.requireImageDigests }}{{ fail (printf "requireImageDigests: no digest for %s (deploy.sh --images-file reports/images.json passes the digests make push recorded)" .name) }}
{{- else }}{{ $ref }}{{ end -}}
{{- end -}}

{{/* true when the cluster serves an API (group/version/Kind) or values.assumeApiVersions lists it:
     (dict "ctx" $ "api" "keda.sh/v1alpha1/ScaledObject") -> "true" | "" */}}
{{- define "ci.hasApi" -}}
{{- if or (.ctx.Capabilities.APIVersions.Has .api) (has .api .ctx.Values.assumeApiVersions) }}true{{ end -}}
{{- end -}}

{{/* the namespaces the API lists pods in ("" = cluster-wide): watchNamespaces (+ the release namespace) */}}
{{- define "ci.watchNamespaces" -}}
{{- $ns := .Values.api.watchNamespaces -}}
{{- if and $ns .Values.api.watchOwnNamespace -}}{{- $ns = prepend $ns .Release.Namespace | uniq -}}{{- end -}}
{{- join "," $ns -}}
{{- end -}}

{{/* KEDA renders the API's autoscaler when enabled and the cluster serves ScaledObject */}}
{{- define "ci.useKeda" -}}
{{- if and .Values.api.autoscaling.enabled .Values.keda.enabled (include "ci.hasApi" (dict "ctx" . "api" "keda.sh/v1alpha1/ScaledObject")) }}true{{ end -}}
{{- end -}}

{{/* CPU cores of a quantity ("250m", "1", 0.5) as a decimal string */}}
{{- define "ci.cores" -}}
{{- $q := toString . -}}
{{- if hasSuffix "m" $q }}{{ divf (trimSuffix "m" $q | float64) 1000 }}{{ else }}{{ $q | float64 }}{{ end -}}
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
{{- /* Across zones always ScheduleAnyway: with DoNotSchedule, a cluster whose nodes carry no zone label (a
     single-zone or on-prem prod) could never schedule a pod. whenUnsatisfiable applies to the spread across nodes. */}}
{{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: {{ $.ctx.Values.topologySpread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: {{ ternary $.ctx.Values.topologySpread.whenUnsatisfiable "ScheduleAnyway" (eq $key "kubernetes.io/hostname") }}
    {{- with $.ctx.Values.topologySpread.nodeTaintsPolicy }}
    nodeTaintsPolicy: {{ . }}
    {{- end }}
    {{- with $.ctx.Values.topologySpread.matchLabelKeys }}
    matchLabelKeys: {{ toJson . }}
    {{- end }}
    labelSelector:
      matchLabels:
        {{- include "ci.selector" (dict "ctx" $.ctx "component" $.component) | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

