{{- define "scraper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tpipe.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "scraper.discoveryNamespace" -}}
{{- default .Release.Namespace .Values.discovery.namespace -}}
{{- end -}}

{{- /* Discovery and sharding come from values (one place), not from `config`. */ -}}
{{- define "scraper.names" -}}
{{- range $k := list "TPIPE_SCRAPE_DISCOVERY" "TPIPE_SCRAPE_NAMESPACE" "TPIPE_SCRAPE_SELECTOR" "TPIPE_SCRAPE_PORT" "TPIPE_SCRAPE_PATH" "TPIPE_SCRAPE_PEER_SELECTOR" "TPIPE_SCRAPE_IDENTITY" "TPIPE_NAMESPACE" }}
{{- if hasKey (default dict $.Values.config) $k }}{{ fail (printf "config.%s is set from discovery.* / the pod; set those instead" $k) }}{{ end }}
{{- end }}
{{- end -}}
