'use strict';
// The platform's deployment rules (shared/STYLE.md, Deploy section), checked over the full set
// of rendered objects of one overlay:
//   - every workload: pod and container securityContext (non-root, RuntimeDefault seccomp,
//     read-only root filesystem, no privilege escalation, all capabilities dropped),
//     requests and limits, an existing ServiceAccount, referenced ConfigMaps present;
//   - every Deployment/StatefulSet container: startup, liveness and readiness probes, with
//     readiness different from liveness, native gRPC probes where the container serves
//     gRPC, and terminationGracePeriodSeconds longer than the drain plus shutdown deadline;
//   - every gRPC Deployment behind a Service with a port named "grpc";
//   - Services, PodDisruptionBudgets and NetworkPolicies select pods that exist, and the
//     Ingress points at a Service port that exists;
//   - prod: every Deployment has replicas >= 2, a HorizontalPodAutoscaler with
//     minReplicas >= 2 and a PodDisruptionBudget that allows an eviction; network
//     policies with a default deny; in-cluster Redis replicated (Sentinel) with a PDB.

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
const SERVING_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
const DEFAULT_DRAIN_SECONDS = 5; // the services' --drain_period default
const DEFAULT_SHUTDOWN_DEADLINE_SECONDS = 10; // --shutdown_deadline default

function podTemplate(obj) {
  if (obj.kind === 'CronJob') return obj.spec?.jobTemplate?.spec?.template;
  return obj.spec?.template;
}

function name(obj) {
  return `${obj.kind}/${obj.metadata?.name}`;
}

// Label selector semantics (matchLabels and matchExpressions).
function selects(selector, labels) {
  if (!selector) return false;
  labels = labels || {};
  for (const [k, v] of Object.entries(selector.matchLabels || {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values || [];
    if (e.operator === 'In' && !(has && values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// "250ms", "5s", "1m30s", "2h" -> seconds; NaN when unreadable.
function durationSeconds(text) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const parts = String(text).match(/(\d+(?:\.\d+)?)(ms|s|m|h)/g);
  if (!parts || parts.join('') !== String(text)) return NaN;
  return parts.reduce((sum, p) => {
    const [, n, u] = /(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(p);
    return sum + Number(n) * units[u];
  }, 0);
}

// The value a container sees for an environment variable: env wins over envFrom.
function envValue(container, variable, configMaps) {
  for (const e of container.env || []) {
    if (e.name === variable && typeof e.value === 'string') return e.value;
  }
  for (const from of container.envFrom || []) {
    const cm = from.configMapRef && configMaps.get(from.configMapRef.name);
    const prefixed = from.prefix ? variable.slice(from.prefix.length) : variable;
    if (cm && cm.data && typeof cm.data[prefixed] === 'string') return cm.data[prefixed];
  }
  return undefined;
}

function checkContainerSecurity(w, pod, c, problems) {
  const where = `${name(w)} container ${c.name}`;
  const sc = c.securityContext || {};
  const psc = pod.securityContext || {};
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: securityContext.allowPrivilegeEscalation must be false`);
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: securityContext.readOnlyRootFilesystem must be true`);
  if (sc.privileged === true) problems.push(`${where}: must not be privileged`);
  if (!(sc.capabilities?.drop || []).includes('ALL')) problems.push(`${where}: securityContext.capabilities.drop must include ALL`);
  if ((sc.capabilities?.add || []).length) problems.push(`${where}: must not add capabilities`);
  const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  if (nonRoot !== true) problems.push(`${where}: runAsNonRoot must be true (pod or container securityContext)`);
  const uid = sc.runAsUser ?? psc.runAsUser;
  if (uid === 0) problems.push(`${where}: runAsUser must not be 0`);
  const seccomp = sc.seccompProfile?.type ?? psc.seccompProfile?.type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
    problems.push(`${where}: seccompProfile.type must be RuntimeDefault (pod or container securityContext)`);
  }
  const r = c.resources || {};
  for (const res of ['cpu', 'memory']) {
    if (!r.requests || r.requests[res] === undefined) problems.push(`${where}: resources.requests.${res} missing`);
  }
  if (!r.limits || r.limits.memory === undefined) problems.push(`${where}: resources.limits.memory missing`);
  if (!r.limits || r.limits.cpu === undefined) problems.push(`${where}: resources.limits.cpu missing`);
}

function checkProbes(w, c, problems) {
  const where = `${name(w)} container ${c.name}`;
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    if (!c[probe]) problems.push(`${where}: ${probe} missing`);
  }
  if (c.livenessProbe && c.readinessProbe &&
      JSON.stringify(c.livenessProbe) === JSON.stringify(c.readinessProbe)) {
    problems.push(`${where}: readinessProbe must differ from livenessProbe (readiness reacts to dependencies and draining, liveness only to a stuck process)`);
  }
  const servesGrpc = (c.ports || []).some((p) => p.name === 'grpc');
  if (servesGrpc) {
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      if (c[probe] && !c[probe].grpc) problems.push(`${where}: ${probe} must be a native gRPC probe (the container serves gRPC)`);
    }
  }
}

function policyProblems(objects, { prod }) {
  const problems = [];
  const byKind = (kind) => objects.filter((o) => o && o.kind === kind);
  const configMaps = new Map(byKind('ConfigMap').map((o) => [o.metadata.name, o]));
  const serviceAccounts = new Set(byKind('ServiceAccount').map((o) => o.metadata.name));
  const services = byKind('Service');
  const workloads = objects.filter((o) => o && WORKLOAD_KINDS.has(o.kind));
  const pdbs = byKind('PodDisruptionBudget');
  const hpas = byKind('HorizontalPodAutoscaler');
  const policies = byKind('NetworkPolicy');
  const podLabels = workloads.map((w) => podTemplate(w)?.metadata?.labels || {});

  for (const w of workloads) {
    const pod = podTemplate(w)?.spec;
    if (!pod) {
      problems.push(`${name(w)}: no pod template`);
      continue;
    }
    const psc = pod.securityContext || {};
    if (psc.runAsNonRoot !== true) problems.push(`${name(w)}: pod securityContext.runAsNonRoot must be true`);
    if (psc.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${name(w)}: pod securityContext.seccompProfile.type must be RuntimeDefault`);
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${name(w)}: must not share host namespaces`);
    const sa = pod.serviceAccountName;
    if (!sa || sa === 'default') problems.push(`${name(w)}: needs its own serviceAccountName`);
    else if (!serviceAccounts.has(sa)) problems.push(`${name(w)}: ServiceAccount ${sa} is not defined`);

    const containers = [...(pod.initContainers || []), ...(pod.containers || [])];
    for (const c of containers) {
      checkContainerSecurity(w, pod, c, problems);
      for (const from of c.envFrom || []) {
        if (from.configMapRef && !from.configMapRef.optional && !configMaps.has(from.configMapRef.name)) {
          problems.push(`${name(w)} container ${c.name}: ConfigMap ${from.configMapRef.name} is not defined`);
        }
      }
      for (const e of c.env || []) {
        const ref = e.valueFrom?.configMapKeyRef;
        if (ref && !ref.optional && !configMaps.get(ref.name)?.data?.[ref.key]) {
          problems.push(`${name(w)} container ${c.name}: ConfigMap key ${ref.name}/${ref.key} is not defined`);
        }
      }
    }
    for (const v of pod.volumes || []) {
      if (v.configMap && !v.configMap.optional && !configMaps.has(v.configMap.name)) {
        problems.push(`${name(w)}: volume ${v.name}: ConfigMap ${v.configMap.name} is not defined`);
      }
      if (v.hostPath) problems.push(`${name(w)}: volume ${v.name}: hostPath volumes are not allowed`);
    }

    if (!SERVING_KINDS.has(w.kind)) continue;
    for (const c of pod.containers || []) checkProbes(w, c, problems);

    // The services stop on SIGTERM after drain + shutdown deadline; the kubelet must wait
    // longer than that before SIGKILL.
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    for (const c of pod.containers || []) {
      if (!(c.ports || []).some((p) => p.name === 'grpc' || p.name === 'http')) continue;
      const drain = durationSeconds(envValue(c, 'CLERKSHIP_DRAIN_PERIOD', configMaps) ?? `${DEFAULT_DRAIN_SECONDS}s`);
      const deadline = durationSeconds(envValue(c, 'CLERKSHIP_SHUTDOWN_DEADLINE', configMaps) ?? `${DEFAULT_SHUTDOWN_DEADLINE_SECONDS}s`);
      if (Number.isNaN(drain) || Number.isNaN(deadline)) {
        problems.push(`${name(w)} container ${c.name}: CLERKSHIP_DRAIN_PERIOD or CLERKSHIP_SHUTDOWN_DEADLINE is not a duration`);
      } else if (!(grace > drain + deadline)) {
        problems.push(`${name(w)}: terminationGracePeriodSeconds (${grace}) must be longer than the drain period plus shutdown deadline (${drain + deadline}s)`);
      }
      if ((c.ports || []).some((p) => p.name === 'grpc')) {
        const labels = podTemplate(w).metadata?.labels || {};
        const fronted = services.some((s) => s.spec?.selector && selects({ matchLabels: s.spec.selector }, labels) &&
          (s.spec.ports || []).some((p) => p.name === 'grpc'));
        if (!fronted) problems.push(`${name(w)}: no Service with a port named grpc selects its pods`);
      }
    }
  }

  for (const s of services) {
    const sel = s.spec?.selector;
    if (sel && !podLabels.some((l) => selects({ matchLabels: sel }, l))) {
      problems.push(`${name(s)}: selector ${JSON.stringify(sel)} matches no pod template`);
    }
  }
  for (const p of pdbs) {
    if (!podLabels.some((l) => selects(p.spec?.selector, l))) problems.push(`${name(p)}: selector matches no pod template`);
  }
  for (const np of policies) {
    const sel = np.spec?.podSelector || {};
    const empty = !Object.keys(sel.matchLabels || {}).length && !(sel.matchExpressions || []).length;
    if (!empty && !podLabels.some((l) => selects(sel, l))) problems.push(`${name(np)}: podSelector matches no pod template`);
  }
  for (const ing of byKind('Ingress')) {
    for (const rule of ing.spec?.rules || []) {
      for (const path of rule.http?.paths || []) {
        const b = path.backend?.service;
        if (!b) continue;
        const svc = services.find((s) => s.metadata.name === b.name);
        if (!svc) problems.push(`${name(ing)}: backend Service ${b.name} is not defined`);
        else if (!(svc.spec.ports || []).some((p) => (b.port?.name ? p.name === b.port.name : p.port === b.port?.number))) {
          problems.push(`${name(ing)}: Service ${b.name} has no port ${JSON.stringify(b.port)}`);
        }
      }
    }
  }

  if (prod) {
    for (const d of byKind('Deployment')) {
      const replicas = d.spec?.replicas ?? 1;
      if (replicas < 2) problems.push(`${name(d)}: prod needs replicas >= 2 (has ${replicas})`);
      const hpa = hpas.find((h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === d.metadata.name);
      if (!hpa) problems.push(`${name(d)}: prod needs a HorizontalPodAutoscaler`);
      else if ((hpa.spec.minReplicas ?? 1) < 2) problems.push(`${name(hpa)}: prod needs minReplicas >= 2`);
      else if (hpa.spec.maxReplicas < hpa.spec.minReplicas) problems.push(`${name(hpa)}: maxReplicas < minReplicas`);
      checkPdbFor(d, pdbs, Math.max(replicas, hpa?.spec?.minReplicas ?? 0), problems);
    }
    const redis = byKind('StatefulSet').filter((s) => s.metadata.name === 'redis');
    for (const s of redis) {
      if ((s.spec?.replicas ?? 1) < 3) problems.push(`${name(s)}: prod Redis needs replicas >= 3 with Sentinel (components/redis-sentinel) or components/external-redis`);
      checkPdbFor(s, pdbs, s.spec?.replicas ?? 1, problems);
    }
    const defaultDeny = policies.some((np) => {
      const sel = np.spec?.podSelector || {};
      return !Object.keys(sel.matchLabels || {}).length && !(sel.matchExpressions || []).length &&
        (np.spec.policyTypes || []).includes('Ingress') && !(np.spec.ingress || []).length;
    });
    if (!defaultDeny) problems.push('prod needs a default-deny NetworkPolicy (components/network-policies)');
  }
  return problems;
}

function checkPdbFor(workload, pdbs, replicas, problems) {
  const labels = podTemplate(workload)?.metadata?.labels || {};
  const pdb = pdbs.find((p) => selects(p.spec?.selector, labels));
  if (!pdb) {
    problems.push(`${name(workload)}: prod needs a PodDisruptionBudget`);
    return;
  }
  const { minAvailable, maxUnavailable } = pdb.spec;
  if (maxUnavailable === 0 || maxUnavailable === '0%' || minAvailable === '100%' ||
      (typeof minAvailable === 'number' && minAvailable >= replicas)) {
    problems.push(`${name(pdb)}: allows no voluntary eviction, which blocks node drains`);
  }
}

module.exports = { policyProblems, durationSeconds, selects };
