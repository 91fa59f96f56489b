#!/usr/bin/env bash
# Chart and image checks: helm lint; helm template for each supported combination, every output
# validated with kubeconform -strict (offline Kubernetes schemas plus helm/crd-schemas) and checked
# for the facts it must hold; bad values that must fail with a schema message; hadolint and a
# structural check of the Dockerfile. Builds the tools first (scripts/helm-tools.sh, cached).
# Prints "helm: N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! bash scripts/helm-tools.sh >/dev/null; then
  echo "!! scripts/helm-tools.sh failed"
  echo "helm: 0 passed, 1 failed"
  exit 1
fi
K8S_VERSION=1.33
HELM=.tools/bin/helm
KUBECONFORM=.tools/bin/kubeconform
PY=.tools/py/bin/python
CHART=helm/clipn-sidecar
EXAMPLE=helm/examples/app-with-sidecar
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
ko() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/    /' <<<"$2"; }

# render_ok NAME CHART CHECK... : renders CHART with the array ARGS, validates, then checks.
render_ok() {
  local name=$1 chart=$2 out err
  shift 2
  out=$work/$(tr -c 'a-z0-9\n' '-' <<<"$name").yaml
  if ! err=$("$HELM" template rel "$chart" --namespace clipn --kube-version "$K8S_VERSION.0" "${ARGS[@]}" 2>&1 >"$out"); then
    ko "$name: helm template" "$err"; return
  fi
  local summary
  if ! summary=$("$KUBECONFORM" -strict -summary -kubernetes-version "$K8S_VERSION.0" \
    -schema-location ".tools/k8s-schemas/v$K8S_VERSION/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -schema-location "helm/crd-schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$out" 2>&1); then
    ko "$name: kubeconform -strict" "$summary"; return
  fi
  if ! err=$("$PY" helm/tools/check-render.py "$out" "$@" 2>&1); then
    ko "$name" "$err"; return
  fi
  ok "$name ($(sed -n 's/.*Valid: \([0-9]*\).*/\1 resources valid/p' <<<"$summary"), $# checks)"
}

# render_fails NAME EXPECTED-MESSAGE : rendering the chart with ARGS must fail with that message.
render_fails() {
  local name=$1 expected=$2 err
  if err=$("$HELM" template rel "$CHART" --kube-version "$K8S_VERSION.0" "${ARGS[@]}" 2>&1 >/dev/null); then
    ko "$name: expected helm template to fail, it rendered"; return
  fi
  if grep -qF -- "$expected" <<<"$err"; then ok "$name"; else ko "$name: expected the message '$expected', got" "$err"; fi
}

echo "== lint"
for c in "$CHART" "$EXAMPLE"; do
  [ "$c" = "$EXAMPLE" ] && { "$HELM" dependency build "$EXAMPLE" >/dev/null 2>&1 || ko "helm dependency build $EXAMPLE"; }
  if err=$("$HELM" lint --strict --kube-version "$K8S_VERSION.0" "$c" 2>&1); then ok "helm lint --strict $c"; else ko "helm lint --strict $c" "$err"; fi
done

echo "== renders"
D='one("Deployment", "rel-clipn-sidecar")'
C="container($D, \"clipn\")"
ARGS=()
render_ok "standalone default" "$CHART" \
  'kinds() == ["ConfigMap/rel-clipn-sidecar", "Deployment/rel-clipn-sidecar", "PodDisruptionBudget/rel-clipn-sidecar", "Service/rel-clipn-sidecar", "ServiceAccount/rel-clipn-sidecar"]' \
  "$D['spec']['replicas'] == 1" \
  "$C['image'] == 'clipn-sidecar:0.1.0'" \
  "$C['args'] == ['serve', '--config', '/etc/clipn/config.json']" \
  "pod($D)['terminationGracePeriodSeconds'] == 30 + 15" \
  "pod($D)['securityContext']['runAsNonRoot'] is True and pod($D)['securityContext']['runAsUser'] == 10001" \
  "$C['securityContext']['readOnlyRootFilesystem'] is True and $C['securityContext']['allowPrivilegeEscalation'] is False" \
  "$C['securityContext']['capabilities']['drop'] == ['ALL'] and $C['securityContext']['seccompProfile']['type'] == 'RuntimeDefault'" \
  "$C['livenessProbe']['httpGet']['path'] == '/healthz' and $C['readinessProbe']['httpGet']['path'] == '/readyz'" \
  "$C['ports'][0]['containerPort'] == 9464" \
  "{m['mountPath'] for m in $C['volumeMounts']} == {'/etc/clipn', '/tmp', '/var/cache/clipn', '/models'}" \
  "[i['name'] for i in pod($D)['initContainers']] == ['clipn-model-fetch']" \
  "config()['model']['dir'] == '/models/demo' and config()['model']['executionProviders'] == ['cpu']" \
  "config()['processing']['delivery'] == 'at-least-once' and config()['processing']['shutdownTimeoutMs'] == 30000" \
  "config()['telemetry']['http']['port'] == 9464 and config()['kafka']['brokers'] == ['kafka:9092']" \
  "config()['processing']['memory']['maxInFlightBytes'] == 268435456 and env($C)['UV_THREADPOOL_SIZE'] == '8'" \
  "'nvidia.com/gpu' not in text"

ARGS=()
render_ok "sidecar in another chart (helm/examples/app-with-sidecar)" "$EXAMPLE" \
  'kinds() == ["ConfigMap/rel-clipn-sidecar", "Deployment/rel-app", "ServiceAccount/rel-clipn-sidecar"]' \
  '[c["name"] for c in pod(one("Deployment"))["containers"]] == ["app", "clipn"]' \
  'container(one("Deployment"), "clipn")["image"] == "clipn-sidecar:0.1.0"' \
  'pod(one("Deployment"))["terminationGracePeriodSeconds"] == 45' \
  '{v["name"] for v in pod(one("Deployment"))["volumes"]} == {"clipn-config", "clipn-tmp", "clipn-cache", "clipn-models"}' \
  '[v for v in pod(one("Deployment"))["volumes"] if v["name"] == "clipn-models"][0]["persistentVolumeClaim"]["claimName"] == "clipn-models"' \
  '"initContainers" not in pod(one("Deployment"))' \
  '[v for v in pod(one("Deployment"))["volumes"] if v["name"] == "clipn-config"][0]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]' \
  'config()["kafka"]["groupId"] == "photo-intake-clipn" and config()["kafka"]["topics"]["input"] == ["photo-intake.images"]'

ARGS=(--set gpu.enabled=true --set-json 'gpu.nodeSelector={"nvidia.com/gpu.present":"true"}')
render_ok "GPU" "$CHART" \
  "$C['image'] == 'clipn-sidecar:0.1.0-cuda'" \
  "$C['resources']['limits']['nvidia.com/gpu'] == 1 and $C['resources']['limits']['memory'] == '2Gi'" \
  "pod($D)['nodeSelector'] == {'nvidia.com/gpu.present': 'true'}" \
  "pod($D)['tolerations'][0]['key'] == 'nvidia.com/gpu'" \
  "config()['model']['executionProviders'] == ['cuda', 'cpu']"

ARGS=(--set keda.enabled=true --set keda.maxReplicaCount=6 --set-json 'kafka.topics.input=["a.images","b.images"]')
render_ok "KEDA on" "$CHART" \
  "'replicas' not in $D['spec']" \
  "one('ScaledObject')['spec']['scaleTargetRef']['name'] == $D['metadata']['name']" \
  "one('ScaledObject')['spec']['maxReplicaCount'] == 6" \
  "[t['metadata']['topic'] for t in one('ScaledObject')['spec']['triggers']] == ['a.images', 'b.images']" \
  "all(t['type'] == 'kafka' and t['metadata']['consumerGroup'] == 'clipn-sidecar' and t['metadata']['bootstrapServers'] == 'kafka:9092' for t in one('ScaledObject')['spec']['triggers'])" \
  "not has('TriggerAuthentication')"

ARGS=(--set serviceMonitor.enabled=true --set-json 'serviceMonitor.labels={"release":"prom"}')
render_ok "ServiceMonitor on" "$CHART" \
  "one('ServiceMonitor')['spec']['endpoints'][0]['port'] == one('Service')['spec']['ports'][0]['name']" \
  "one('ServiceMonitor')['spec']['endpoints'][0]['path'] == '/metrics'" \
  "one('ServiceMonitor')['metadata']['labels']['release'] == 'prom'" \
  "all(one('Service')['metadata']['labels'].get(k) == v for k, v in one('ServiceMonitor')['spec']['selector']['matchLabels'].items())"

T='one("Deployment", "rel-clipn-sidecar-trainer")'
ARGS=(--set trainer.enabled=true --set gpu.enabled=true)
render_ok "trainer on (Deployment)" "$CHART" \
  "container($T, 'trainer')['image'] == 'clipn-sidecar:0.1.0-trainer'" \
  "container($T, 'trainer')['args'] == ['train', '--config', '/etc/clipn/config.json']" \
  "$T['spec']['replicas'] == 1 and $T['spec']['strategy']['type'] == 'Recreate'" \
  "env(container($T, 'trainer'))['CLIPN_MODEL__EXECUTION_PROVIDERS'] == 'cpu'" \
  "'nvidia.com/gpu' not in str(pod($T))" \
  "'/var/lib/clipn/samples' in [m['mountPath'] for m in container($T, 'trainer')['volumeMounts']]" \
  "config()['trainer']['samplesDir'] == '/var/lib/clipn/samples'"

ARGS=(--set trainer.enabled=true --set trainer.mode=cronjob --set trainer.schedule='*/30 * * * *')
render_ok "trainer on (CronJob, --once)" "$CHART" \
  "one('CronJob')['spec']['schedule'] == '*/30 * * * *'" \
  "container(one('CronJob'), 'trainer')['args'][-1] == '--once'" \
  "pod(one('CronJob'))['restartPolicy'] == 'OnFailure'" \
  "not has('Job')"

ARGS=(--set trainer.enabled=false)
render_ok "trainer off" "$CHART" \
  "not has('CronJob') and len([d for d in docs if d['kind'] == 'Deployment']) == 1" \
  "not any('trainer' in d['metadata']['name'] for d in docs)" \
  "not any(c['name'] == 'trainer' for d in docs if d['kind'] == 'Deployment' for c in pod(d)['containers'])"

ARGS=(--set processing.delivery=exactly-once --set processing.shutdownTimeoutMs=60500)
render_ok "exactly-once, longer shutdown" "$CHART" \
  "config()['processing']['delivery'] == 'exactly-once'" \
  "config()['processing']['shutdownTimeoutMs'] == 60500" \
  "pod($D)['terminationGracePeriodSeconds'] == 61 + 15"

ARGS=(--set kafka.sasl.enabled=true --set kafka.sasl.existingSecret=kafka-creds --set kafka.sasl.mechanism=scram-sha-256 --set kafka.tls.enabled=true --set keda.enabled=true)
render_ok "SASL from an existing Secret, TLS" "$CHART" \
  "env($C)['CLIPN_KAFKA__SASL__USERNAME'] == {'secretKeyRef': {'name': 'kafka-creds', 'key': 'username'}}" \
  "env($C)['CLIPN_KAFKA__SASL__PASSWORD'] == {'secretKeyRef': {'name': 'kafka-creds', 'key': 'password'}}" \
  "env($C)['CLIPN_KAFKA__SASL__MECHANISM'] == 'scram-sha-256'" \
  "'sasl' not in config()['kafka'] and config()['kafka']['ssl'] is True" \
  "not has('Secret')" \
  "[r['parameter'] for r in one('TriggerAuthentication')['spec']['secretTargetRef']] == ['username', 'password']" \
  "one('ScaledObject')['spec']['triggers'][0]['metadata']['sasl'] == 'scram_sha256'" \
  "one('ScaledObject')['spec']['triggers'][0]['metadata']['tls'] == 'enable'" \
  "one('ScaledObject')['spec']['triggers'][0]['authenticationRef']['name'] == one('TriggerAuthentication')['metadata']['name']"

ARGS=(--set model.source=pvc --set model.pvc.claimName=models --set model.pvc.subPath=clipn --set model.name=vit-b16)
render_ok "model from a PVC" "$CHART" \
  "'initContainers' not in pod($D)" \
  "[v for v in pod($D)['volumes'] if v['name'] == 'clipn-models'][0]['persistentVolumeClaim'] == {'claimName': 'models', 'readOnly': True}" \
  "[m for m in $C['volumeMounts'] if m['name'] == 'clipn-models'][0]['subPath'] == 'clipn'" \
  "config()['model']['dir'] == '/models/vit-b16' and config()['processing']['modelName'] == 'vit-b16'"

ARGS=(--set-json 'labelSets=[{"id":"animals","labels":["cat","dog"],"routing":{"rule":"either"}},{"id":"tools","labels":["saw"],"routing":{"rule":"calibrated"},"thresholds":{"ctwLogOdds":-0.4}}]')
render_ok "label sets published by a hook Job" "$CHART" \
  "one('Job')['metadata']['annotations']['helm.sh/hook'] == 'post-install,post-upgrade'" \
  "sorted(one('ConfigMap', 'rel-clipn-sidecar-label-sets')['data']) == ['000-animals.json', '001-tools.json']" \
  "__import__('json').loads(one('ConfigMap', 'rel-clipn-sidecar-label-sets')['data']['001-tools.json'])['routing']['rule'] == 'calibrated'" \
  "'labels put' in container(one('Job'), 'publish')['args'][0]"

ARGS=(--set telemetry.otel.endpoint=http://otel-collector:4318 --set telemetry.otel.tracesSampler=parentbased_traceidratio --set telemetry.otel.tracesSamplerArg=0.1 --set telemetry.logLevel=debug)
render_ok "OpenTelemetry variables" "$CHART" \
  "env($C)['OTEL_EXPORTER_OTLP_ENDPOINT'] == 'http://otel-collector:4318'" \
  "env($C)['OTEL_TRACES_SAMPLER'] == 'parentbased_traceidratio' and env($C)['OTEL_TRACES_SAMPLER_ARG'] == '0.1'" \
  "env($C)['OTEL_SERVICE_NAME'] == 'rel-clipn-sidecar'" \
  "config()['telemetry']['logLevel'] == 'debug' and config()['telemetry']['otlpEndpoint'] == 'http://otel-collector:4318'"

ARGS=(--set labelStudio.enabled=true --set labelStudio.url=http://label-studio.labelling:8080 --set labelStudio.tokenSecret.name=ls-token --set trainer.enabled=true --set-json 'labelStudio.options={"projectTitle":"Review {labelSet}"}')
render_ok "label-studio plugin, token from a Secret" "$CHART" \
  "config()['plugins']['modules'][0]['module'] == '/app/dist/plugins/label-studio/index.js'" \
  "config()['plugins']['modules'][0]['options']['url'] == 'http://label-studio.labelling:8080' and config()['plugins']['modules'][0]['options']['tokenEnv'] == 'CLIPN_LABEL_STUDIO_TOKEN'" \
  "config()['plugins']['modules'][0]['options']['projectTitle'] == 'Review {labelSet}'" \
  "config()['plugins']['modules'][0]['options']['webhook'] == {'enabled': True, 'host': '0.0.0.0', 'port': 9470, 'publicUrl': 'http://rel-clipn-sidecar.clipn.svc:9470/label-studio/webhook'}" \
  "env($C)['CLIPN_LABEL_STUDIO_TOKEN'] == {'secretKeyRef': {'name': 'ls-token', 'key': 'token'}}" \
  "{'name': 'label-studio', 'containerPort': 9470, 'protocol': 'TCP'} in $C['ports']" \
  "[p['targetPort'] for p in one('Service')['spec']['ports']] == ['clipn-http', 'label-studio']" \
  "not has('Secret')" \
  "'CLIPN_LABEL_STUDIO_TOKEN' not in env(container(one('Deployment', 'rel-clipn-sidecar-trainer'), 'trainer'))"

ARGS=()
render_ok "label-studio plugin off by default" "$CHART" \
  "'plugins' not in config()" \
  "'CLIPN_LABEL_STUDIO_TOKEN' not in env($C)" \
  "len(one('Service')['spec']['ports']) == 1"

T='one("Deployment", "rel-clipn-sidecar-trainer")'
ARGS=(--set trust.publicKeysSecret=clipn-trusted-keys --set trust.signingKeySecret=clipn-signing --set trainer.enabled=true --set-json 'labelSets=[{"id":"default","labels":["cat"],"routing":{"rule":"atd"}}]')
render_ok "signed side channels: trusted keys from a Secret, the signing key in the publishers only" "$CHART" \
  "config()['trust'] == {'publicKeys': ['/etc/clipn-trust/public']}" \
  "[v['secret'] for v in pod($D)['volumes'] if v['name'] == 'clipn-trust-public'] == [{'secretName': 'clipn-trusted-keys', 'defaultMode': 0o444}]" \
  "{'name': 'clipn-trust-public', 'mountPath': '/etc/clipn-trust/public', 'readOnly': True} in $C['volumeMounts']" \
  "'/etc/clipn-trust/public' in [m['mountPath'] for m in container($T, 'trainer')['volumeMounts']]" \
  "'CLIPN_TRUST__SIGNING_KEY' not in env($C) and 'clipn-trust-signing' not in [v['name'] for v in pod($D)['volumes']]" \
  "env(container($T, 'trainer'))['CLIPN_TRUST__SIGNING_KEY'] == '/etc/clipn-trust/signing/signing.pem'" \
  "[v['secret']['secretName'] for v in pod($T)['volumes'] if v['name'] == 'clipn-trust-signing'] == ['clipn-signing']" \
  "env(container(one('Job'), 'publish'))['CLIPN_TRUST__SIGNING_KEY'] == '/etc/clipn-trust/signing/signing.pem'" \
  "'/etc/clipn-trust/signing' in [m['mountPath'] for m in container(one('Job'), 'publish')['volumeMounts']]" \
  "not has('Secret')"

ARGS=(--set kafka.sasl.enabled=true --set kafka.sasl.existingSecret=kafka-creds --set kafka.allowPlaintextSasl=true)
render_ok "SASL without TLS only when allowed" "$CHART" \
  "config()['kafka']['allowPlaintextSasl'] is True and config()['kafka']['ssl'] is False"

echo "== bad values"
ARGS=(--set replicaCount=-1);                  render_fails "replicaCount -1" "at '/replicaCount': minimum: got -1, want 0"
ARGS=(--set-json 'labelSets=[{"id":"a","labels":["x"],"routing":{"rule":"sometimes"}}]')
render_fails "routing rule sometimes" "at '/labelSets/0/routing/rule': value must be one of 'ctw', 'atd', 'both', 'either', 'calibrated'"
ARGS=(--set processing.delivery=maybe);        render_fails "delivery maybe" "at '/processing/delivery': value must be one of 'at-least-once', 'exactly-once'"
ARGS=(--set telemetry.logLevel=loud);          render_fails "logLevel loud" "at '/telemetry/logLevel': value must be one of"
ARGS=(--set replicaCuont=2);                   render_fails "misspelt key" "additional properties 'replicaCuont' not allowed"
ARGS=(--set-json 'kafka.brokers=["kafka"]');   render_fails "broker without port" "at '/kafka/brokers/0'"
ARGS=(--set kafka.sasl.enabled=true);          render_fails "SASL without a Secret" "kafka.sasl.existingSecret: expected the name of a Secret"
ARGS=(--set kafka.sasl.enabled=true --set kafka.sasl.existingSecret=kafka-creds); render_fails "SASL without TLS" "kafka.tls.enabled: expected true with kafka.sasl.enabled"
ARGS=(--set model.source=pvc);                 render_fails "PVC source without a claim" "model.pvc.claimName: expected an existing PersistentVolumeClaim"
ARGS=(--set processing.shutdownGraceSeconds=0); render_fails "grace period not beyond the shutdown deadline" "at '/processing/shutdownGraceSeconds': minimum: got 0, want 1"
ARGS=(--set keda.enabled=true --set keda.minReplicaCount=9 --set keda.maxReplicaCount=3)
render_fails "KEDA min above max" "keda.minReplicaCount: expected at most keda.maxReplicaCount (3), got 9"
ARGS=(--set-json 'labelSets=[{"id":"a","labels":["x"],"routing":{"rule":"calibrated"}}]')
render_fails "calibrated rule without thresholds" "labelSets[a].thresholds: expected ctwLogOdds or atdLogOdds thresholds"

ARGS=(--set labelStudio.enabled=true --set labelStudio.tokenSecret.name=ls-token)
render_fails "label-studio without a URL" "labelStudio.url: expected Label Studio's URL"
ARGS=(--set labelStudio.enabled=true --set labelStudio.url=http://ls:8080)
render_fails "label-studio without a token Secret" "labelStudio.tokenSecret.name: expected the name of a Secret"
ARGS=(--set labelStudio.enabled=true --set labelStudio.url=ls:8080 --set labelStudio.tokenSecret.name=ls-token)
render_fails "label-studio URL without a scheme" "at '/labelStudio/url'"

echo "== Dockerfile"
if err=$(.tools/py/bin/hadolint Dockerfile 2>&1); then ok "hadolint Dockerfile"; else ko "hadolint Dockerfile" "$err"; fi
if err=$("$PY" helm/tools/check-dockerfile.py Dockerfile .dockerignore 2>&1); then ok "Dockerfile structure"; else ko "Dockerfile structure" "$err"; fi

echo "helm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
