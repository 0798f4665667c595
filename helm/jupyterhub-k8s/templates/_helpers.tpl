{{/* Names, labels and shared fragments of the jupyterhub-k8s chart. */}}

{{- define "jhk8s.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>" (or just the release when it already contains the chart name), max 40
     characters so that suffixes such as "-proxy-public" stay within Kubernetes' 63. */}}
{{- define "jhk8s.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "jhk8s.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "hub"). */}}
{{- define "jhk8s.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jhk8s.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "jhk8s.labels" -}}
{{ include "jhk8s.selectorLabels" . }}
app.kubernetes.io/part-of: jupyterhub-k8s
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* An image reference from {name, tag, digest}: the digest wins. */}}
{{- define "jhk8s.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .name .digest -}}
{{- else if .tag -}}
{{- printf "%s:%s" .name .tag -}}
{{- else -}}
{{- .name -}}
{{- end -}}
{{- end -}}

{{- define "jhk8s.hubName" -}}{{ include "jhk8s.fullname" . }}-hub{{- end -}}
{{- define "jhk8s.hubConfigName" -}}{{ include "jhk8s.fullname" . }}-hub-config{{- end -}}
{{- define "jhk8s.hubMetricsName" -}}{{ include "jhk8s.fullname" . }}-hub-metrics{{- end -}}
{{- define "jhk8s.proxyName" -}}{{ include "jhk8s.fullname" . }}-proxy{{- end -}}
{{- define "jhk8s.proxyApiName" -}}{{ include "jhk8s.fullname" . }}-proxy-api{{- end -}}
{{- define "jhk8s.proxyPublicName" -}}{{ include "jhk8s.fullname" . }}-proxy-public{{- end -}}

{{/* The Secret holding the hub's tokens: hub.existingSecret, else the one this chart creates. */}}
{{- define "jhk8s.hubSecretName" -}}
{{- .Values.hub.existingSecret | default (include "jhk8s.hubName" .) -}}
{{- end -}}

{{/* A token of one of the chart's Secrets (the hub's unless .secret names another), base64-encoded:
     the value already stored in the cluster (so upgrades keep it), else a new random 32-byte hex
     token. Call with (dict "root" $ "key" K) or (dict "root" $ "key" K "secret" NAME). */}}
{{- define "jhk8s.storedToken" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (.secret | default (include "jhk8s.hubName" .root)) -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 64 | sha256sum | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Changes when the tokens' source changes (a new proxy.secretToken or hub.existingSecret), so
     hub and proxy restart then. Generated tokens are not hashed: they are random until the
     first install stores them, and never change after. */}}
{{- define "jhk8s.tokensChecksum" -}}
{{- list .Values.proxy.secretToken .Values.hub.existingSecret | toJson | sha256sum -}}
{{- end -}}

{{/* Hub path prefix without trailing slash ("" for "/"). */}}
{{- define "jhk8s.basePath" -}}{{ trimSuffix "/" .Values.hub.baseUrl }}{{- end -}}

{{/* Pods of this release by component, for NetworkPolicy peers. */}}
{{- define "jhk8s.peer" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ .root.Release.Name }}
      app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* DNS egress (UDP and TCP 53) to the cluster DNS pods and networkPolicy.dns.extraCidrs only:
     a rule without `to` would let any pod reach any server on port 53. */}}
{{- define "jhk8s.dnsEgress" -}}
{{- $dns := .Values.networkPolicy.dns -}}
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
  to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $dns.namespace }}
      podSelector:
        matchLabels:
          {{- toYaml $dns.podLabels | nindent 10 }}
    {{- range $dns.extraCidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
{{- end -}}

{{/* Egress to the IPv4 internet minus networkPolicy.alwaysExcept (cloud metadata, carrier-grade
     NAT) and the ranges given: call with (dict "root" $ "except" LIST). */}}
{{- define "jhk8s.internetEgress" -}}
- to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except:
          {{- concat .root.Values.networkPolicy.alwaysExcept (.except | default list) | uniq | toYaml | nindent 10 }}
{{- end -}}

{{/* The first and the last address of an IPv4 CIDR, as two integers: "first last". */}}
{{- define "jhk8s.cidrBounds" -}}
{{- $parts := split "/" . -}}
{{- $first := 0 -}}
{{- range splitList "." $parts._0 }}{{ $first = add (mul $first 256) (atoi .) }}{{ end -}}
{{- $size := 1 -}}
{{- range until (sub 32 (atoi $parts._1) | int) }}{{ $size = mul $size 2 }}{{ end -}}
{{- $first = mul (div $first $size) $size -}}
{{- printf "%d %d" $first (sub (add $first $size) 1) -}}
{{- end -}}

{{/* Whether the CIDR .outer holds all of the CIDR .inner: "true" or "". */}}
{{- define "jhk8s.cidrHolds" -}}
{{- $outer := splitList " " (include "jhk8s.cidrBounds" .outer) -}}
{{- $inner := splitList " " (include "jhk8s.cidrBounds" .inner) -}}
{{- if and (le (atoi (index $outer 0)) (atoi (index $inner 0))) (ge (atoi (index $outer 1)) (atoi (index $inner 1))) -}}
true
{{- end -}}
{{- end -}}

{{/* The campus's extra egress rules (.rules, found at the values key .key), each address block
     given the networkPolicy.alwaysExcept ranges it holds as exceptions, so that no rule reopens
     cloud metadata; a block inside one of those ranges stops the install instead. */}}
{{- define "jhk8s.extraEgress" -}}
{{- $always := .root.Values.networkPolicy.alwaysExcept -}}
{{- range $index, $rule := .rules }}
{{- $to := list }}
{{- range $peer := $rule.to }}
{{- if $peer.ipBlock }}
{{- $cidr := $peer.ipBlock.cidr }}
{{- $except := $peer.ipBlock.except | default list }}
{{- range $always }}
{{- if include "jhk8s.cidrHolds" (dict "outer" . "inner" $cidr) }}
{{- fail (printf "%s[%d]: %s lies inside networkPolicy.alwaysExcept's %s, which no rule may open" $.key $index $cidr .) }}
{{- else if include "jhk8s.cidrHolds" (dict "outer" $cidr "inner" .) }}
{{- $except = append $except . }}
{{- end }}
{{- end }}
{{- $block := dict "cidr" $cidr }}
{{- if $except }}{{ $_ := set $block "except" ($except | uniq) }}{{ end }}
{{- $to = append $to (dict "ipBlock" $block) }}
{{- else }}
{{- $to = append $to $peer }}
{{- end }}
{{- end }}
- {{ omit $rule "to" | merge (dict "to" $to) | toYaml | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/* JupyterHub.subdomain_host as z2jh spells it (hub.config), "" when unset. */}}
{{- define "jhk8s.subdomainHost" -}}
{{- dig "JupyterHub" "subdomain_host" "" .Values.hub.config -}}
{{- end -}}

{{/* z2jh's extraEnv as a container's env list: a list of EnvVars as given, or a map of
     NAME: value and NAME: EnvVar (whose own name, if given, wins over the key). */}}
{{- define "jhk8s.extraEnv" -}}
{{- if kindIs "slice" . }}
{{- toYaml . }}
{{- else }}
{{- range $name, $value := . }}
{{- if kindIs "map" $value }}
- {{ merge (dict) $value (dict "name" $name) | toYaml | nindent 2 | trim }}
{{- else }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Names of the Secrets an extraEnv (map or list), a list of containers or a list of volumes
     (secret and projected ones) reads, as JSON: call with (dict "env" ENV),
     (dict "containers" LIST) or (dict "volumes" LIST). */}}
{{- define "jhk8s.secretsRead" -}}
{{- $names := list }}
{{- $vars := list }}
{{- if kindIs "slice" .env }}
{{- $vars = .env }}
{{- else }}
{{- range $_, $value := .env }}
{{- if kindIs "map" $value }}
{{- $vars = append $vars $value }}
{{- end }}
{{- end }}
{{- end }}
{{- range .containers }}
{{- $vars = concat $vars (.env | default list) }}
{{- range .envFrom }}
{{- $names = append $names (dig "secretRef" "name" "" .) }}
{{- end }}
{{- end }}
{{- range $vars }}
{{- $names = append $names (dig "valueFrom" "secretKeyRef" "name" "" .) }}
{{- end }}
{{- range .volumes }}
{{- $names = append $names (dig "secret" "secretName" "" .) }}
{{- range (dig "projected" "sources" list .) }}
{{- $names = append $names (dig "secret" "name" "" .) }}
{{- end }}
{{- end }}
{{- without $names "" | toJson -}}
{{- end -}}
