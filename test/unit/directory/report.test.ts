import { describe, expect, it } from 'vitest';
import { loadReferenceData } from '../../../src/directory/reference.js';
import { buildReport, renderReportHtml, renderReportText } from '../../../src/directory/report.js';
import { createSnapshot } from '../../../src/directory/snapshot.js';
import { data, NOW, ROLE } from './fixture.js';

const refs = loadReferenceData();

function report(mut?: (d: ReturnType<typeof data>) => void, opts: { maxGlobalAdmins?: number } = {}) {
  const d = data();
  mut?.(d);
  return buildReport(createSnapshot(d, new Date(NOW).toISOString()), { now: NOW, refs, ...opts });
}

describe('posture report', () => {
  it('flags SP privileged roles, credential hygiene, ownerless apps and control-plane agents', () => {
    const r = report();
    const find = (check: string, id: string) => r.findings.filter((f) => f.check === check && f.subject.id === id);
    // sp-agent: User Administrator via group and PIM-active Application Administrator are privileged.
    expect(find('privileged-role-service-principal', 'sp-agent').filter((f) => f.severity === 'high')).toHaveLength(2);
    // Eligible Global Admin on an SP is reported too, at lower severity.
    expect(find('privileged-role-service-principal', 'sp-agent').some((f) => f.severity === 'medium' && f.detail.includes('Global Administrator'))).toBe(true);
    // u-admin's Privileged Role Administrator is permanent (noExpiration schedule).
    expect(find('privileged-role-permanent', 'u-admin')).toHaveLength(1);
    // k1: 400+ days old, ends in 10 days.
    expect(find('credential-expiring', 'app-obj-agent')).toHaveLength(1);
    expect(find('credential-long-lived', 'app-obj-agent')).toHaveLength(1);
    expect(find('app-without-owners', 'app-obj-x')).toHaveLength(0);
    expect(r.findings.some((f) => f.check === 'agent-control-plane')).toBe(false);
    const agent = r.agents.find((a) => a.servicePrincipalId === 'sp-agent');
    expect(agent).toMatchObject({ controlPlane: true, multiTenant: true, activeRoles: expect.arrayContaining(['User Administrator']) as unknown });
    expect(find('multi-tenant-high-privilege', 'sp-agent')).toHaveLength(1);
    // Ordered by severity.
    const ranks = r.findings.map((f) => ['high', 'medium', 'low', 'info'].indexOf(f.severity));
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
  });

  it('flags guests with roles and too many Global Administrators', () => {
    const r = report(
      (d) => {
        const t = d.tenants[0];
        if (!t) return;
        t.roleAssignments.push({ id: 'ra-g1', principalId: 'u-guest', roleDefinitionId: ROLE.globalAdmin, directoryScopeId: '/' });
        t.roleAssignments.push({ id: 'ra-g2', principalId: 'u-member', roleDefinitionId: ROLE.globalAdmin, directoryScopeId: '/' });
      },
      { maxGlobalAdmins: 1 },
    );
    expect(r.findings.find((f) => f.check === 'guest-with-role' && f.subject.id === 'u-guest')?.severity).toBe('high');
    expect(r.findings.find((f) => f.check === 'too-many-global-admins')?.detail).toMatch(/^2 principals/);
  });

  it('reports agents holding control-plane Graph permissions', () => {
    const r = report((d) => {
      d.tenants[0]?.appRoleAssignments.push({ id: 'ara-cp', principalId: 'sp-client', resourceId: 'sp-graph', appRoleId: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9' });
    });
    const f = r.findings.find((x) => x.check === 'agent-control-plane' && x.subject.id === 'sp-client');
    expect(f?.detail).toContain('Application.ReadWrite.All');
  });

  it('renders text and escaped, self-contained HTML', () => {
    const r = report((d) => {
      const u = d.tenants[0]?.applications[1];
      if (u) {
        u.owners = [];
        u.displayName = '<script>alert(1)</script>';
      }
    });
    expect(renderReportText(r)).toContain('[HIGH]');
    const html = renderReportHtml(r);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/<link|src=|https?:\/\//i);
  });
});
