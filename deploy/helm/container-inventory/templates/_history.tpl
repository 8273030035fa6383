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
