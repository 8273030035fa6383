{{/* Fleet (issue 12) on Kubernetes: the sources file (SOURCES_FILE) from fleet.sources, the client certificate for
     mutual TLS to remote socket proxies from fleet.clientCertSecret, egress to them from fleet.egress. Off while
     fleet.sources is empty: nothing below renders and the API lists this cluster only. */}}
{{- define "ci.fleetSources" -}}{{ include "ci.fullname" . | trunc 49 | trimSuffix "-" }}-fleet-sources{{- end -}}
{{- define "ci.fleet.dir" -}}/etc/inventory/fleet{{- end -}}
{{- define "ci.fleet.certDir" -}}/run/secrets/fleet{{- end -}}

{{/* What the API's startup check (api/inventory/fleet/config.py) cannot know about a pod, checked at render time:
     tls files must be in the mounted client-certificate Secret, no unix:// socket or kubeconfig file exists in the
     pod, and an in-cluster source may only watch namespaces the chart's RBAC grants. The document itself is
     validated against api/inventory/fleet/sources.schema.json by tests/k8s/test_fleet_chart.py and at startup. */}}
{{- define "ci.fleet.check" -}}
{{- $f := .Values.fleet -}}
{{- $certDir := include "ci.fleet.certDir" . -}}
{{- $watch := include "ci.watchNamespaces" . -}}
{{- range $i, $s := ($f.sources.sources | default list) -}}
{{- $where := printf "fleet.sources.sources[%d] (%s)" $i ($s.name | default "?") -}}
{{- with $s.tls -}}
{{- if not $f.clientCertSecret -}}
{{- fail (printf "%s: tls needs fleet.clientCertSecret (the Secret scripts/fleet-certs.sh's ca.pem, api.pem, api-key.pem go into)" $where) -}}
{{- end -}}
{{- range $part := list "ca" "cert" "key" -}}
{{- $path := index $s.tls $part | default "" | toString -}}
{{- if not (hasPrefix (printf "%s/" $certDir) $path) -}}
{{- fail (printf "%s: tls.%s %q must be a file of fleet.clientCertSecret, mounted at %s/" $where $part $path $certDir) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if hasPrefix "unix://" ($s.url | default "" | toString) -}}
{{- fail (printf "%s: a unix:// socket does not exist in the pod; reach the engine through a socket proxy (tcp:// or https://)" $where) -}}
{{- end -}}
{{- if $s.kubeconfig -}}
{{- fail (printf "%s: the chart mounts no kubeconfig; use in_cluster: true for this cluster" $where) -}}
{{- end -}}
{{- if and $s.in_cluster $watch -}}
{{- if not $s.namespaces -}}
{{- fail (printf "%s: in_cluster with api.watchNamespaces set must list namespaces (the chart grants only %s)" $where $watch) -}}
{{- end -}}
{{- range $s.namespaces -}}
{{- if not (has . (splitList "," $watch)) -}}
{{- fail (printf "%s: namespace %s is not watched (api.watchNamespaces and the release namespace: %s)" $where . $watch) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ci.fleet.annotations" -}}
{{- if .Values.fleet.sources }}
checksum/fleet-sources: {{ toYaml .Values.fleet.sources | sha256sum }}
{{- end }}
{{- end -}}

{{- define "ci.fleet.env" -}}
{{- if .Values.fleet.sources }}
- name: SOURCES_FILE
  value: {{ include "ci.fleet.dir" . }}/sources.yaml
{{- end }}
{{- end -}}

{{- define "ci.fleet.volumeMounts" -}}
{{- if .Values.fleet.sources }}
- name: fleet-sources
  mountPath: {{ include "ci.fleet.dir" . }}
  readOnly: true
{{- if .Values.fleet.clientCertSecret }}
# No subPath: the kubelet swaps the whole directory atomically when the Secret changes.
- name: fleet-client-cert
  mountPath: {{ include "ci.fleet.certDir" . }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "ci.fleet.volumes" -}}
{{- if .Values.fleet.sources }}
- name: fleet-sources
  configMap:
    name: {{ include "ci.fleetSources" . }}
    defaultMode: 0444
{{- if .Values.fleet.clientCertSecret }}
- name: fleet-client-cert
  secret:
    secretName: {{ .Values.fleet.clientCertSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rules to the remote engines' socket proxies (flask-api and the recorder). */}}
{{- define "ci.fleet.egress" -}}
{{- if .Values.fleet.sources }}
{{- range .Values.fleet.egress }}
- to:
    - ipBlock: {cidr: {{ .cidr }}}
  ports:
    - {protocol: TCP, port: {{ .port }}}
{{- end }}
{{- end }}
{{- end -}}
