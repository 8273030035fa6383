{{- /*
ci.apiServerEgress: the NetworkPolicy egress rule towards the Kubernetes API server (flask-api, recorder), from
api.apiServer.cidrs/ports. Cilium does not match the in-cluster API server by CIDR (it is the reserved entity
kube-apiserver): with api.apiServer.cilium the CiliumNetworkPolicy below allows it (this rule stays, unused).
*/}}
{{- define "ci.apiServerEgress" -}}
- to:
    {{- range .Values.api.apiServer.cidrs }}
    - ipBlock: {cidr: {{ . }}}
    {{- end }}
  ports:
    {{- range .Values.api.apiServer.ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end -}}

{{- /* ci.dnsEgress: DNS to the cluster DNS pods and to node-local caches (NodeLocal DNSCache: 169.254.20.10). */}}
{{- define "ci.dnsEgress" -}}
{{- $np := .Values.networkPolicy }}
- to:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: {{ $np.dnsNamespace }}}
      podSelector:
        matchLabels:
          {{- toYaml $np.dnsPodLabels | nindent 10 }}
    {{- range $np.dnsCidrs }}
    - ipBlock: {cidr: {{ . }}}
    {{- end }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}

{{- /* ci.ciliumApiServer: CiliumNetworkPolicy letting the pods that talk to the API server reach it. */}}
{{- define "ci.ciliumApiServer" -}}
{{- if and .Values.networkPolicy.enabled .Values.api.apiServer.cilium }}
{{- if not (include "ci.hasApi" (dict "ctx" . "api" "cilium.io/v2/CiliumNetworkPolicy")) }}
{{- fail "api.apiServer.cilium=true: the cluster does not serve cilium.io/v2 CiliumNetworkPolicy (is the CNI Cilium? offline renders: assumeApiVersions={cilium.io/v2/CiliumNetworkPolicy})" }}
{{- end }}
---
# Cilium: egress to the API server by entity (kube-apiserver), for flask-api and the recorder.
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: {{ include "ci.fullname" . }}-kube-apiserver
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "ci.labels" . | nindent 4 }}
spec:
  endpointSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
    matchExpressions:
      - {key: app.kubernetes.io/name, operator: In, values: [flask-api, recorder]}
  egress:
    - toEntities: [kube-apiserver]
      toPorts:
        - ports:
            {{- range .Values.api.apiServer.ports }}
            - {port: {{ . | quote }}, protocol: TCP}
            {{- end }}
{{- end }}
{{- end -}}
