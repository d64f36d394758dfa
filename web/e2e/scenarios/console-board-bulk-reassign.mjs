// A supervisor opens the board, selects two of three new unassigned
// cases of the statistics office and reassigns them in bulk to an
// operator with a reason; the board and the cases' history show it.
export const name = 'console-board-bulk-reassign';

export default async function ({ page, h }) {
  const stamp = Date.now();
  const refs = [];
  for (const [i, who] of [['1', 'Elena Galli'], ['2', 'Franco Neri'], ['3', 'Irene Costa']]) {
    refs.push(await h.sendRequest(page, {
      name: who, email: `${who.toLowerCase().replace(' ', '.')}@example.org`, topic: 'Richiesta di dati',
      subject: `Tavola ${i} sulle imprese ${stamp}`, message: `Richiesta ${i}: dati sulle imprese attive per provincia.`,
    }));
  }

  const boardPath = '/console/board?view=unassigned&department=statistics';
  await h.loginStaff('supervisor', { returnTo: boardPath });
  await page.getByRole('heading', { name: 'Quadro supervisore' }).waitFor();
  h.expect(await page.locator('#load-statistics').isVisible(), 'the board shows the statistics office\'s load');
  for (const r of refs) {
    h.expect(await page.locator('#board-cases tbody tr', { hasText: r }).count() === 1, `the unassigned view lists ${r}`);
  }
  const unassignedBefore = Number(await page.locator('#load-statistics .load-unassigned').innerText());
  // Names, not ids: the office's title and the transfer picker.
  h.expect((await page.locator('#load-title-statistics').innerText()).trim() === 'Statistica', 'the board names the office');
  h.expect(await page.locator('#bulk-department option', { hasText: 'Comunicazione' }).count() === 1, 'the transfer picker names the offices');
  for (const r of refs) {
    h.expect((await page.locator('#board-cases tbody tr', { hasText: r }).innerText()).match(/Elena Galli|Franco Neri|Irene Costa/), `${r} shows its citizen`);
  }
  // The reports' charts, 7 days, and 30 on the switch (the filter stays).
  await page.locator('#board-charts figure#volume svg').waitFor();
  h.expect((await page.locator('#board-charts figure#volume figcaption').innerText()).includes('ultimi 7 giorni'), 'the board charts the last 7 days');
  h.expect(await page.locator('#board-charts figure#sla svg').count() === 1, 'the board charts SLA compliance');
  await h.checkPage('board');
  await Promise.all([page.waitForURL(/days=30/), page.getByRole('link', { name: 'Ultimi 30 giorni' }).click()]);
  h.expect((await page.locator('#board-charts figure#volume figcaption').innerText()).includes('ultimi 30 giorni'), 'the switch shows 30 days');
  h.expect(new URL(page.url()).searchParams.get('department') === 'statistics', 'the switch keeps the filter');
  await h.checkPage('board-30-days');

  // Two of the three, to Giulia Conti (statistics), with a reason.
  const moved = refs.slice(0, 2);
  for (const r of moved) await page.getByRole('checkbox', { name: `Seleziona ${r}` }).check();
  await page.getByLabel('Motivo (obbligatorio)').fill('Riequilibrio del carico');
  await page.getByLabel(/^Riassegna a/).selectOption({ label: 'Giulia Conti' });
  await h.checkPage('board-selected');
  await Promise.all([
    page.waitForURL(/\/console\/board\?/),
    page.getByRole('button', { name: 'Riassegna', exact: true }).click(),
  ]);
  await page.locator('#notice', { hasText: 'Operazione completata su tutte le pratiche selezionate.' }).waitFor();
  // Back on the same filter: the office's unassigned cases.
  const after = new URL(page.url()).searchParams;
  h.expect(after.get('department') === 'statistics' && after.get('view') === 'unassigned', `the board kept its filter (${page.url()})`);
  h.expect(await page.locator('#board-cases tbody tr', { hasText: refs[2] }).count() === 1, 'the filtered list is back, with the case not moved');
  await h.checkPage('board-done');

  // The unassigned view of the office keeps only the third; the office's
  // load counts two fewer unassigned cases.
  await h.goto(boardPath);
  for (const r of moved) h.expect(await page.locator('#board-cases tbody tr', { hasText: r }).count() === 0, `${r} is no longer unassigned`);
  h.expect(await page.locator('#board-cases tbody tr', { hasText: refs[2] }).count() === 1, `${refs[2]} (not selected) is still unassigned`);
  const unassignedAfter = Number(await page.locator('#load-statistics .load-unassigned').innerText());
  h.expect(unassignedAfter === unassignedBefore - 2, `unassigned in statistics: ${unassignedBefore} → ${unassignedAfter}, want two fewer`);

  // The office's view shows the new assignee on both.
  await page.getByRole('link', { name: 'I miei uffici' }).click();
  await page.waitForURL(/view=departments/);
  for (const r of moved) {
    const row = page.locator('#board-cases tbody tr', { hasText: r });
    h.expect((await row.innerText()).includes('Giulia Conti'), `${r} is assigned to Giulia Conti (op-statistics), by name`);
  }
  await h.checkPage('board-departments');

  // The case's history records the reassignment with its reason.
  await page.getByRole('link', { name: moved[0] }).click();
  await page.locator('#case-assignee', { hasText: 'Giulia Conti' }).waitFor();
  await page.getByRole('link', { name: 'Cronologia' }).click();
  await page.locator('#history').waitFor();
  h.expect(await page.locator('#history tr.history-event[data-type="assigned"]', { hasText: 'Riequilibrio del carico' }).count() === 1,
    'the history records the reassignment and its reason');
  await h.checkPage('case-history');
}
