{{/* History (issue 11): the recorder, its database, and what the API needs to read it. Off unless history.enabled. */}}
{{- define "ci.recorder" -}}{{ include "ci.fullname" . | trunc 54 | trimSuffix "-" }}-recorder{{- end -}}
{{- define "ci.historyPvc" -}}{{ include "ci.fullname" . | trunc 55 | trimSuffix "-" }}-history{{- end -}}

{{/* DATABASE_URL for the API and the recorder: a file on the PVC, or the key of an existing Secret (PostgreSQL). */}}
{{- define "ci.history.env" -}}
{{- $h := .Values.history -}}
{{- if $h.enabled }}
- name: DATABASE_URL
{{- if eq $h.database "postgresql" }}
  valueFrom:
    secretKeyRef:
      name: {{ required "history.postgresql.existingSecret: the Secret that holds DATABASE_URL" $h.postgresql.existingSecret }}
      key: {{ $h.postgresql.secretKey }}
{{- else }}
  value: sqlite:////var/lib/inventory/history.db
{{- end }}
{{- end }}
{{- end -}}

{{/* Egress rules to PostgreSQL (history.postgresql.egress) for the API and the recorder: both open DATABASE_URL. */}}
{{- define "ci.history.dbEgress" -}}
{{- $h := .Values.history -}}
{{- if and $h.enabled (eq $h.database "postgresql") }}
{{- if not $h.postgresql.egress }}{{ fail "history.postgresql.egress: where PostgreSQL is ([{cidr: ..., port: 5432}] or [{namespace: ..., podLabels: {...}, port: 5432}]): the API and the recorder need an egress path to it" }}{{ end }}
{{- range $h.postgresql.egress }}
- to:
    {{- if .cidr }}
    - ipBlock: {cidr: {{ .cidr }}}
    {{- else }}
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: {{ .namespace }}}
      {{- with .podLabels }}
      podSelector:
        matchLabels:
          {{- toYaml . | nindent 10 }}
      {{- end }}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .port }}}
{{- end }}
{{- end }}
{{- end -}}

{{/* SQLite on a ReadWriteOnce claim: every pod that mounts it must run on the node that has it attached. Each such
     pod carries the label and requires a pod with it on its node (the first one matches itself). */}}
{{- define "ci.history.sharesNode" -}}
{{- $h := .Values.history -}}
{{- and $h.enabled (eq $h.database "sqlite") (not (or (has "ReadWriteMany" $h.persistence.accessModes) (has "ReadOnlyMany" $h.persistence.accessModes))) | ternary "true" "" -}}
{{- end -}}

{{- define "ci.history.affinityLabel" -}}
{{- if include "ci.history.sharesNode" . }}
container-inventory.io/history-volume: {{ include "ci.historyPvc" . }}
{{- end }}
{{- end -}}

{{- define "ci.history.affinity" -}}
{{- if include "ci.history.sharesNode" . }}
{{- if eq .Values.topologySpread.whenUnsatisfiable "DoNotSchedule" }}
{{- fail "history.database=sqlite on a ReadWriteOnce volume keeps every API pod on the recorder's node, which topologySpread.whenUnsatisfiable=DoNotSchedule forbids: use history.database=postgresql (multi-node production) or a ReadWriteMany history.persistence.accessModes" }}
{{- end }}
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            container-inventory.io/history-volume: {{ include "ci.historyPvc" . }}
{{- end }}
{{- end -}}

{{- define "ci.history.volumeMounts" -}}
{{- if and .Values.history.enabled (eq .Values.history.database "sqlite") }}
- name: history
  mountPath: /var/lib/inventory
{{- end }}
{{- end -}}

{{- define "ci.history.volumes" -}}
{{- if and .Values.history.enabled (eq .Values.history.database "sqlite") }}
- name: history
  persistentVolumeClaim:
    claimName: {{ include "ci.historyPvc" . }}
{{- end }}
{{- end -}}
