{{- /*
Shared helpers of the tpipe service charts, in one library chart (`type: library`) that every service
chart depends on through a file:// reference: one copy, so the charts cannot drift apart, and each chart
stays installable on its own (`helm dependency build` packages the library into its charts/).
*/ -}}

{{- define "tpipe.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* Objects are named after the chart, not the release, so the mqreader pods are mqreader-0, mqreader-1, …
whatever the release is called (one tpipe per namespace by default). global.names.<chart> renames a chart's
objects AND every reference to them from the other charts (tpipe.nameOf); fullnameOverride renames only
the chart's own objects (the umbrella chart refuses it for a chart others refer to). */ -}}
{{- define "tpipe.fullname" -}}
{{- .Values.fullnameOverride | default (include "tpipe.nameOf" (dict "ctx" . "chart" .Chart.Name)) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* The name of another chart's objects, as that chart names them: global.names.<chart>, else the chart
name. Arguments: ctx, chart. */ -}}
{{- define "tpipe.nameOf" -}}
{{- $names := default dict .ctx.Values.global.names -}}
{{- get $names .chart | default .chart | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- /* Selectors use only name + instance: StatefulSet and Deployment selectors cannot change later. */ -}}
{{- define "tpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tpipe.labels" -}}
{{ include "tpipe.selectorLabels" . }}
app.kubernetes.io/component: {{ .Values.component | default .Chart.Name }}
app.kubernetes.io/part-of: tpipe
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- /* global.image (set once by the umbrella chart or `tpipe up`) wins over the chart's own image. */ -}}
{{- define "tpipe.image" -}}
{{- $g := (default dict (default dict .Values.global).image) -}}
{{- $repo := default .Values.image.repository $g.repository -}}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) $g.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "image tag \"latest\" is not allowed (it forces a pull and is not reproducible): pin a version" -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{- define "tpipe.pullPolicy" -}}
{{- $g := (default dict (default dict .Values.global).image) -}}
{{- default .Values.image.pullPolicy $g.pullPolicy -}}
{{- end -}}

{{- /* Settings reach the pod as the config schema's TPIPE_* names, through the chart's ConfigMap. */ -}}
{{- define "tpipe.configData" -}}
TPIPE_PORT: {{ .Values.port | quote }}
{{- range $k, $v := .Values.config }}
{{- if not (hasPrefix "TPIPE_" $k) }}{{ fail (printf "config.%s: settings are TPIPE_* names of the config schema" $k) }}{{ end }}
{{- if or (eq $k "TPIPE_PORT") (eq $k "TPIPE_DATABASE_URL") }}{{ fail (printf "config.%s is set by the chart (port / database secret)" $k) }}{{ end }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{- define "tpipe.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "tpipe.fullname" . }}
  labels:
    {{- include "tpipe.labels" . | nindent 4 }}
data:
  {{- include "tpipe.configData" . | nindent 2 }}
{{- end -}}

{{- /*
The Secret (and key) holding the service's TPIPE_DATABASE_URL. With global.database.serviceRoles.enabled
(the umbrella chart), the service's own least-privilege user: Secret <secretPrefix>-<chart name>, key
database-url (made by the umbrella chart; the migration Job creates the users). Otherwise the shared
database Secret (global.database, else this chart's `database` value).
*/ -}}
{{- define "tpipe.databaseSecretName" -}}
{{- $g := (default dict (default dict .Values.global).database) -}}
{{- $roles := default dict $g.serviceRoles -}}
{{- if $roles.enabled -}}
{{- printf "%s-%s" (required "global.database.serviceRoles.secretPrefix is required" $roles.secretPrefix) .Chart.Name -}}
{{- else -}}
{{- default .Values.database.existingSecret $g.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "tpipe.databaseSecretKey" -}}
{{- $g := (default dict (default dict .Values.global).database) -}}
{{- if (default dict $g.serviceRoles).enabled -}}
database-url
{{- else -}}
{{- default .Values.database.secretKey $g.secretKey -}}
{{- end -}}
{{- end -}}

{{- /*
The pod template of a tpipe service. Arguments (a dict):
  ctx            the chart context
  database       true: TPIPE_DATABASE_URL from the database Secret
  serviceAccount name of a ServiceAccount whose token the pod needs (Kubernetes API); empty: no token
  extraEnv       YAML list of more env entries (fieldRefs)
  extraMounts    YAML list of more volumeMounts
  extraVolumes   YAML list of more volumes
  checksum       extra text whose change must roll the pods (mounted data)
The chart's `tokens` value lists the service tokens (TPIPE_*_TOKEN) the pod gets from the tokens Secret
(global.tokens.existingSecret, made by the umbrella chart); optional keys: a chart installed on its own
without that Secret runs with the endpoints open (README › Security).
*/ -}}
{{- define "tpipe.podTemplate" -}}
{{- $ := .ctx -}}
{{- $shutdownMs := int (default 15000 (index (default dict $.Values.config) "TPIPE_SHUTDOWN_TIMEOUT_MS")) -}}
{{- $delayMs := int (default 0 (index (default dict $.Values.config) "TPIPE_SHUTDOWN_DELAY_MS")) -}}
{{- if le (mul (int $.Values.terminationGracePeriodSeconds) 1000) (add $shutdownMs $delayMs) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v s) must be longer than TPIPE_SHUTDOWN_DELAY_MS + TPIPE_SHUTDOWN_TIMEOUT_MS (%v + %v ms), or Kubernetes kills the pod mid-drain" $.Values.terminationGracePeriodSeconds $delayMs $shutdownMs) -}}
{{- end -}}
metadata:
  labels:
    {{- include "tpipe.labels" $ | nindent 4 }}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $.Values.port | quote }}
    prometheus.io/path: /metrics
    checksum/config: {{ printf "%s%s" (include "tpipe.configData" $) (default "" .checksum) | sha256sum }}
    {{- with $.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- if .serviceAccount }}
  serviceAccountName: {{ .serviceAccount }}
  automountServiceAccountToken: true
  {{- else }}
  automountServiceAccountToken: false
  {{- end }}
  terminationGracePeriodSeconds: {{ $.Values.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: {{ $.Chart.Name }}
      image: {{ include "tpipe.image" $ | quote }}
      imagePullPolicy: {{ include "tpipe.pullPolicy" $ }}
      args: ["serve", {{ $.Chart.Name | quote }}]
      ports:
        - name: http
          containerPort: {{ $.Values.port }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "tpipe.fullname" $ }}
      {{- $tokens := default list $.Values.tokens }}
      {{- $tokenSecret := default "tpipe-tokens" (default dict (default dict $.Values.global).tokens).existingSecret }}
      {{- if or .database .extraEnv $tokens }}
      env:
        {{- if .database }}
        - name: TPIPE_DATABASE_URL
          valueFrom:
            secretKeyRef:
              name: {{ include "tpipe.databaseSecretName" $ }}
              key: {{ include "tpipe.databaseSecretKey" $ }}
        {{- end }}
        {{- range $tokens }}
        {{- if not (regexMatch "^TPIPE_[A-Z]+_TOKEN$" .) }}{{ fail (printf "tokens: %s is not a TPIPE_*_TOKEN setting" .) }}{{ end }}
        - name: {{ . }}
          valueFrom:
            secretKeyRef:
              name: {{ $tokenSecret }}
              key: {{ . }}
              optional: true
        {{- end }}
        {{- with .extraEnv }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: 10
        timeoutSeconds: 3
        failureThreshold: 6
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        timeoutSeconds: 3
        failureThreshold: 3
      resources:
        {{- toYaml $.Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        capabilities:
          drop: ["ALL"]
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .extraMounts }}
        {{- . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .extraVolumes }}
    {{- . | nindent 4 }}
    {{- end }}
  {{- with $.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "tpipe.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tpipe.fullname" . }}
  labels:
    {{- include "tpipe.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "tpipe.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      {{- if and (eq .Values.service.type "NodePort") .Values.service.nodePort }}
      nodePort: {{ .Values.service.nodePort }}
      {{- end }}
{{- end -}}

{{- /*
HPA on CPU and on the service's buffer utilization gauge (a Pods metric served by Prometheus Adapter).
Kept to plain autoscaling/v2 so a KEDA ScaledObject can replace it later. Arguments: ctx, kind.
*/ -}}
{{- define "tpipe.hpa" -}}
{{- $ := .ctx -}}
{{- $a := $.Values.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "tpipe.fullname" $ }}
  labels:
    {{- include "tpipe.labels" $ | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ .kind }}
    name: {{ include "tpipe.fullname" $ }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
    {{- /* bufferMetric.enabled false: CPU only (no Prometheus Adapter, e.g. `tpipe up --skip-monitoring`). */}}
    {{- if or (not (hasKey $a.bufferMetric "enabled")) $a.bufferMetric.enabled }}
    - type: Pods
      pods:
        metric:
          name: {{ $a.bufferMetric.name }}
        target:
          type: AverageValue
          averageValue: {{ $a.bufferMetric.averageValue | quote }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
