{{- define "hub.name" -}}{{ .Release.Name }}-cbam-data-hub{{- end -}}
{{- define "hub.redisUrl" -}}
{{- if .Values.redis.url -}}{{ .Values.redis.url }}{{- else -}}redis://{{ include "hub.name" . }}-redis:6379/0{{- end -}}
{{- end -}}
