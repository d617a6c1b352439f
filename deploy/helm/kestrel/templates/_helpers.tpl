{{- define "kestrel.labels" -}}
app.kubernetes.io/part-of: kestrel
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "kestrel.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
