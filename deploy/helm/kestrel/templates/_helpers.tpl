{{- define "kestrel.labels" -}}
app.kubernetes.io/part-of: kestrel
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "kestrel.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* The agent's `kestrel detect` options: the chart's, then agent.config over them. */}}
{{- define "kestrel.agentConfig" -}}
{{- $detect := dict "live" true "profiles" "/var/lib/kestrel/profiles" "spool" "/var/lib/kestrel/spool" "audit" "/var/lib/kestrel/response.jsonl" "metrics" "0.0.0.0:9470" -}}
{{- if .Values.agent.respondPolicy -}}
{{- $_ := set $detect "respond" "/etc/kestrel/respond/respond.yaml" -}}
{{- end -}}
{{- if .Values.agent.rules -}}
{{- $_ := set $detect "rules" (list "/etc/kestrel/rules") -}}
{{- end -}}
{{- if .Values.server.nats -}}
{{- $_ := set $detect "nats" .Values.server.nats -}}
{{- else -}}
{{- $_ := set $detect "server" (printf "http://kestrel-server.%s.svc:8470" .Release.Namespace) -}}
{{- end -}}
{{- dict "detect" (mergeOverwrite $detect (deepCopy .Values.agent.config)) | toYaml -}}
{{- end -}}
{{/* The server's `kestrel server` options: the chart's, then server.config over them. */}}
{{- define "kestrel.serverConfig" -}}
{{- $server := dict "listen" "0.0.0.0:8470" "data-dir" "/var/lib/kestrel" "tokens" "/etc/kestrel/tokens/tokens.yaml" "retention-days" .Values.server.retentionDays -}}
{{- if gt (int .Values.server.vulndb.updateEveryHours) 0 -}}
{{- $_ := set $server "db-update-every" (int .Values.server.vulndb.updateEveryHours) -}}
{{- end -}}
{{- if .Values.server.vulndb.baseUrl -}}
{{- $_ := set $server "db-base-url" .Values.server.vulndb.baseUrl -}}
{{- end -}}
{{- if .Values.server.nats -}}
{{- $_ := set $server "nats" .Values.server.nats -}}
{{- $_ := set $server "nats-replicas" .Values.server.natsReplicas -}}
{{- end -}}
{{- dict "server" (mergeOverwrite $server (deepCopy .Values.server.config)) | toYaml -}}
{{- end -}}
