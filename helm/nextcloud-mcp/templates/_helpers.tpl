{{/* Names */}}
{{- define "nextcloud-mcp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nextcloud-mcp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nextcloud-mcp.authProxy.fullname" -}}
{{- printf "%s-auth-proxy" (include "nextcloud-mcp.fullname" .) -}}
{{- end -}}
{{- define "nextcloud-mcp.mcpServer.fullname" -}}
{{- printf "%s-mcp-server" (include "nextcloud-mcp.fullname" .) -}}
{{- end -}}
{{- define "nextcloud-mcp.redis.fullname" -}}
{{- printf "%s-redis" (include "nextcloud-mcp.fullname" .) -}}
{{- end -}}

{{- define "nextcloud-mcp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nextcloud-mcp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels. Call with (dict "ctx" $ "component" "auth-proxy"). */}}
{{- define "nextcloud-mcp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nextcloud-mcp.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{- define "nextcloud-mcp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "nextcloud-mcp.selectorLabels" . }}
app.kubernetes.io/part-of: nextcloud-mcp
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Image reference. Call with (dict "ctx" $ "image" .Values.x.image). */}}
{{- define "nextcloud-mcp.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Public URLs. */}}
{{- define "nextcloud-mcp.host" -}}
{{- required "host is required: the public host name, e.g. --set host=mcp.example.com" .Values.host -}}
{{- end -}}
{{- define "nextcloud-mcp.issuer" -}}
{{- printf "https://%s" (include "nextcloud-mcp.host" .) -}}
{{- end -}}
{{- define "nextcloud-mcp.resource" -}}
{{- printf "https://%s/mcp" (include "nextcloud-mcp.host" .) -}}
{{- end -}}

{{/* The app-password strategy is in force (the default). */}}
{{- define "nextcloud-mcp.appPassword" -}}
{{- if eq .Values.authProxy.nextcloud.credentials "app-password" -}}true{{- end -}}
{{- end -}}

{{/* Nextcloud's base URL as the auth-proxy reaches it (app-password strategy). */}}
{{- define "nextcloud-mcp.nextcloud.url" -}}
{{- default .Values.mcpServer.nextcloudUrl .Values.authProxy.nextcloud.url -}}
{{- end -}}

{{/* Where the secret files are mounted. */}}
{{- define "nextcloud-mcp.secretDir" -}}/run/secrets/nextcloud-mcp{{- end -}}

{{/* The Secret holding the values given in .Values.secrets (and the bundled Redis URL). */}}
{{- define "nextcloud-mcp.secretName" -}}
{{- include "nextcloud-mcp.fullname" . -}}
{{- end -}}

{{/*
The projected-volume sources of the secret files. Call with
(dict "ctx" $ "files" (list (list "signingKeys" "signing-keys.pem") …)): each pair is a key of
.Values.secrets and the file name. Secrets neither given nor taken from an existing Secret are
left out.
*/}}
{{- define "nextcloud-mcp.secretSources" -}}
{{- $ctx := .ctx -}}
{{- $sources := list -}}
{{- range $f := .files -}}
{{- $name := index $f 0 -}}
{{- $s := index $ctx.Values.secrets $name -}}
{{- $item := list (dict "key" $s.key "path" (index $f 1)) -}}
{{- if $s.existingSecret -}}
{{- $sources = append $sources (dict "secret" (dict "name" $s.existingSecret "items" $item)) -}}
{{- else if include "nextcloud-mcp.hasSecret" (dict "ctx" $ctx "name" $name) -}}
{{- $sources = append $sources (dict "secret" (dict "name" (include "nextcloud-mcp.secretName" $ctx) "items" $item)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $sources -}}
{{- end -}}

{{/* True ("true") when a secret is configured one way or another. */}}
{{- define "nextcloud-mcp.hasSecret" -}}
{{- $s := index .ctx.Values.secrets .name -}}
{{- if or $s.existingSecret $s.value (and (eq .name "redisUrl") .ctx.Values.redis.enabled) -}}true{{- end -}}
{{- end -}}

{{/* Fail early with a readable message when required settings are missing. */}}
{{- define "nextcloud-mcp.validate" -}}
{{- $_ := include "nextcloud-mcp.host" . -}}
{{- $_ := required "authProxy.upstream.issuer is required: your IdP's issuer (docs/idp-setup.md)" .Values.authProxy.upstream.issuer -}}
{{- $_ := required "authProxy.upstream.clientId is required: the auth-proxy's client id at your IdP" .Values.authProxy.upstream.clientId -}}
{{- $_ := required "mcpServer.nextcloudUrl is required: the base URL of your Nextcloud" .Values.mcpServer.nextcloudUrl -}}
{{- if include "nextcloud-mcp.appPassword" . -}}
{{- $nc := required "authProxy.nextcloud.url (or mcpServer.nextcloudUrl) is required with authProxy.nextcloud.credentials=app-password: Nextcloud's base URL as the auth-proxy reaches it (docs/nextcloud-setup.md)" (include "nextcloud-mcp.nextcloud.url" .) -}}
{{- $ncv := .Values.authProxy.nextcloud -}}
{{- if not (hasPrefix "https://" $nc) -}}
{{- if not (hasPrefix "http://" $nc) -}}
{{- fail (printf "authProxy.nextcloud.url: must be an https URL (AUTH_PROXY_NEXTCLOUD_URL), got %s" $nc) -}}
{{- else if not $ncv.allowInsecureHttp -}}
{{- fail (printf "authProxy.nextcloud.url: the auth-proxy reaches Nextcloud over https (AUTH_PROXY_NEXTCLOUD_URL), got %s; set an https URL, or for an in-cluster Nextcloud over plain http set authProxy.nextcloud.allowInsecureHttp=true and authProxy.nextcloud.publicUrl to the https URL browsers use" $nc) -}}
{{- else if not (hasPrefix "https://" $ncv.publicUrl) -}}
{{- fail (printf "authProxy.nextcloud.publicUrl: required and https when authProxy.nextcloud.url is plain http (%s): the https URL people open Nextcloud at; browsers are never sent to plain http" $nc) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $name := list "signingKeys" "encryptionKeys" "exchangeClientSecret" -}}
{{- if not (include "nextcloud-mcp.hasSecret" (dict "ctx" $ "name" $name)) -}}
{{- fail (printf "secrets.%s: set .value or .existingSecret (docs/deployment.md, \"Generate the keys\")" $name) -}}
{{- end -}}
{{- end -}}
{{- $ex := .Values.secrets.exchangeClientSecret.value -}}
{{- if and $ex (lt (len $ex) 16) -}}
{{- fail "secrets.exchangeClientSecret.value must be at least 16 characters" -}}
{{- end -}}
{{- if and .Values.redis.enabled (or .Values.secrets.redisUrl.value .Values.secrets.redisUrl.existingSecret) -}}
{{- if not (and .Values.redis.auth.existingSecret .Values.secrets.redisUrl.existingSecret) -}}
{{- fail "redis.enabled: leave secrets.redisUrl empty, the chart builds the URL of the bundled Redis (or give both redis.auth.existingSecret and secrets.redisUrl.existingSecret)" -}}
{{- end -}}
{{- end -}}
{{- if .Values.redis.enabled -}}
{{- if and .Values.redis.auth.existingSecret (not .Values.secrets.redisUrl.existingSecret) -}}
{{- fail "redis.auth.existingSecret needs secrets.redisUrl.existingSecret too: the chart cannot build the URL without the password" -}}
{{- end -}}
{{- if not .Values.redis.auth.existingSecret -}}
{{- $_ := required "redis.auth.password is required when redis.enabled (or redis.auth.existingSecret)" .Values.redis.auth.password -}}
{{- end -}}
{{- else if not (include "nextcloud-mcp.hasSecret" (dict "ctx" $ "name" "redisUrl")) -}}
{{- fail "Redis is required (the auth-proxy runs several replicas): set secrets.redisUrl.value or .existingSecret, or redis.enabled=true" -}}
{{- end -}}
{{- end -}}

{{/* The bundled Redis URL (only with a password given as a value). */}}
{{- define "nextcloud-mcp.redis.url" -}}
{{- printf "redis://:%s@%s:6379/0" (.Values.redis.auth.password | urlquery) (include "nextcloud-mcp.redis.fullname" .) -}}
{{- end -}}

{{/* Pod-level security context shared by the two services. */}}
{{- define "nextcloud-mcp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context (every container). */}}
{{- define "nextcloud-mcp.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* A soft spread over nodes. Call with (dict "ctx" $ "component" "auth-proxy"). */}}
{{- define "nextcloud-mcp.topologySpread" -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "nextcloud-mcp.selectorLabels" . | nindent 6 }}
{{- end -}}
