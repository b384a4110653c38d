/**
 * Approver notifications: webhook POSTs (plain JSON, Teams Adaptive Card, Slack blocks) with the
 * decision narrative, retried with backoff. Owns formatting and delivery; never blocks a hold:
 * notify() returns at once and failures come back as metric events.
 */
import { request, type Dispatcher } from 'undici';
import type { Approval } from './model.js';
import { iso, type Clock, type MetricSink } from './ports.js';

export type NoticeEvent = 'requested' | 'expiring' | 'approved' | 'denied' | 'expired';

export interface ApprovalNotice {
  event: NoticeEvent;
  approval: Approval;
}

export type WebhookFormat = 'json' | 'teams' | 'slack';

export interface WebhookTarget {
  /** Used in metrics and events; the URL itself is a secret for Slack/Teams and is never reported. */
  name: string;
  url: string;
  format: WebhookFormat;
  headers?: Record<string, string>;
  /** Only these events go to this target; default all. */
  events?: NoticeEvent[];
}

export interface NotifierConfig {
  targets: WebhookTarget[];
  maxAttempts: number;
  /** First retry after this; doubles each attempt. */
  backoffMs: number;
  timeoutMs: number;
  /** Base URL of the admin API, for links in messages. */
  adminUrl?: string;
}

export interface Notifier {
  notify(n: ApprovalNotice): void;
  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

const TITLES: Record<NoticeEvent, string> = {
  requested: 'Approval requested',
  expiring: 'Approval request about to expire',
  approved: 'Approval granted',
  denied: 'Approval denied',
  expired: 'Approval request expired (nobody decided)',
};

function facts(a: Approval): Array<[string, string]> {
  const s = a.summary;
  const rows: Array<[string, string]> = [
    ['Agent', s.agent.displayName ? `${s.agent.displayName} (${s.agent.appId})` : s.agent.appId],
    ['Caller', s.principal.kind === 'delegated' ? `delegated for ${s.principal.userPrincipalName ?? s.principal.userId ?? 'unknown user'}` : 'app-only'],
    ['Operation', `${a.keyParts.method} ${a.keyParts.canonicalUrl}`],
    ['State', a.state],
    ['Approval id', a.id],
    ['Expires', iso(a.expiresAt)],
  ];
  if (a.decidedBy) rows.push(['Decided by', a.decidedBy]);
  if (a.justification) rows.push(['Justification', a.justification]);
  return rows;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Slack mrkdwn treats &, < and > as control characters. */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Pure: the request body for one target format. */
export function formatNotice(format: WebhookFormat, n: ApprovalNotice, now: number, adminUrl?: string): unknown {
  const a = n.approval;
  const title = `${TITLES[n.event]}: ${a.summary.operation.summary}`;
  const link = adminUrl ? `${adminUrl.replace(/\/+$/, '')}/api/v1/approvals/${a.id}` : undefined;
  if (format === 'teams') {
    // Teams Incoming Webhook / Workflows format: a message with one Adaptive Card attachment.
    return {
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: {
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            type: 'AdaptiveCard',
            version: '1.4',
            body: [
              { type: 'TextBlock', size: 'Medium', weight: 'Bolder', text: title, wrap: true },
              { type: 'FactSet', facts: facts(a).map(([title, value]) => ({ title, value })) },
              { type: 'TextBlock', text: a.summary.narrative, wrap: true },
              ...(link ? [{ type: 'TextBlock', text: `Decide: ${link}`, wrap: true, isSubtle: true }] : []),
            ],
          },
        },
      ],
    };
  }
  if (format === 'slack') {
    // Slack limits: header text 150 chars, section text 3000, field text 2000, 10 fields.
    return {
      text: clip(title, 3000),
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: clip(title, 150) } },
        { type: 'section', fields: facts(a).slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${slackEscape(v)}`, 2000) })) },
        { type: 'section', text: { type: 'mrkdwn', text: clip(slackEscape(a.summary.narrative), 3000) } },
        ...(link ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: clip(`Decide: ${slackEscape(link)}`, 3000) }] }] : []),
      ],
    };
  }
  return {
    type: `graphwarden.approval.${n.event}`,
    at: iso(now),
    approval: {
      id: a.id,
      state: a.state,
      agent: a.summary.agent,
      principal: a.summary.principal,
      operation: { ...a.summary.operation, canonicalUrl: a.keyParts.canonicalUrl },
      createdAt: iso(a.createdAt),
      expiresAt: iso(a.expiresAt),
      decidedBy: a.decidedBy,
      justification: a.justification,
    },
    narrative: a.summary.narrative,
    ...(link ? { link } : {}),
  };
}

export function createNotifier(options: {
  config: Partial<NotifierConfig> & { targets: WebhookTarget[] };
  clock: Clock;
  metric?: MetricSink;
  /** Backoff wait; injected so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>;
  dispatcher?: Dispatcher;
}): Notifier {
  const config: NotifierConfig = { maxAttempts: 4, backoffMs: 500, timeoutMs: 5000, ...options.config };
  const metric = options.metric ?? (() => {});
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  const inflight = new Set<Promise<void>>();

  const send = async (target: WebhookTarget, body: string): Promise<void> => {
    let lastError = '';
    let attempts = 0;
    for (let attempt = 1; attempt <= config.maxAttempts; attempt++) {
      attempts = attempt;
      try {
        const res = await request(target.url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', ...target.headers },
          headersTimeout: config.timeoutMs,
          bodyTimeout: config.timeoutMs,
          ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          metric({ type: 'notify-sent', target: target.name, attempts: attempt });
          return;
        }
        lastError = `HTTP ${res.statusCode}`;
        // A 4xx other than 429 will not get better by retrying (bad URL, bad payload).
        if (res.statusCode < 500 && res.statusCode !== 429) break;
      } catch (err) {
        // undici errors carry a code; never include the URL (webhook URLs embed secrets).
        lastError = (err as { code?: string }).code ?? (err instanceof Error ? err.name : 'error');
      }
      if (attempt < config.maxAttempts) await sleep(config.backoffMs * 2 ** (attempt - 1));
    }
    metric({ type: 'notify-failed', target: target.name, attempts, error: lastError });
  };

  return {
    notify(n) {
      const now = options.clock();
      for (const target of config.targets) {
        if (target.events && !target.events.includes(n.event)) continue;
        const body = JSON.stringify(formatNotice(target.format, n, now, config.adminUrl));
        const p = send(target, body).catch(() => {});
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    },
    async idle() {
      while (inflight.size) await Promise.all([...inflight]);
    },
  };
}
