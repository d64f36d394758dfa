// The call-centre screen pop: while an operator has the console open, a
// call notice ("event: call" on the console's stream, as WatchQueue sends
// it when the PBX reports a call) is drawn at the top of the queue page
// and of a case page: who is calling, their open cases as links, and the
// forms to attach the call to a case or open a new one with its notes.
// The browser has no PBX here, so the stream is played to the page
// (Playwright's route) with a notice for the citizen's real case; the
// attach form then posts to the real server, which refuses a call it has
// never seen, and the refusal comes back on the page it was sent from.
// (TestIntegrationConsoleWork attaches real calls over HTTP.)
export const name = 'console-call-screen-pop';

export default async function ({ page, h }) {
  const subject = `Certificato di residenza ${Date.now()}`;
  const reference = await h.sendRequest(page, {
    name: 'Marta Greco', email: 'marta.greco@example.org', topic: 'Richiesta di dati',
    subject, message: 'Vorrei sapere a che punto è la mia richiesta.',
  });
  await h.loginStaff('operator-statistics');
  await page.getByRole('heading', { name: 'Coda' }).waitFor();
  const row = page.locator('#queue-table tbody tr', { hasText: reference });
  h.expect((await row.innerText()).includes('Marta Greco'), 'the queue shows the citizen\'s name');
  const caseId = await row.getAttribute('data-case-id');

  const notice = {
    type: 'answered', callId: 'e2e-call-1', department: 'statistics', operator: 'operator-statistics',
    from: '+39 333 1234567', contactName: 'Marta Greco', openCases: [{ id: caseId, reference, subject }],
  };
  await page.route('**/console/events*', (route) => route.fulfill({
    status: 200, headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
    body: `retry: 60000\n: watching\n\nevent: call\ndata: ${JSON.stringify(notice)}\n\n`,
  }));

  await h.goto('/console/');
  const pop = page.locator('#call-pop .call-notice');
  await pop.waitFor({ timeout: 15000 });
  h.expect((await pop.locator('h2').innerText()).includes('Chiamata in corso – Da +39 333 1234567'), 'the notice says who is calling');
  h.expect((await pop.locator('.call-citizen').innerText()).includes('Marta Greco'), 'the notice names the citizen');
  h.expect(await pop.getByRole('link', { name: reference }).count() === 1, 'the notice links the open case');
  await page.locator('#call-live', { hasText: 'Marta Greco' }).waitFor();
  await h.checkPage('queue-call-notice');

  // Attach: the server does not know this call, and says so on the queue.
  const attach = pop.locator('form.call-attach');
  await attach.getByLabel('Note della chiamata (obbligatorie)').fill('Chiede lo stato della pratica.');
  await Promise.all([
    page.waitForURL(/\/console\/\?error=/),
    attach.getByRole('button', { name: 'Collega' }).click(),
  ]);
  h.expect((await page.locator('#errors').innerText()).includes('Non trovata'), 'an unknown call is refused, on the page the form was on');
  await h.checkPage('queue-call-refused');

  // On the case page the notice offers this case first, and closes.
  await h.goto('/console/cases/' + caseId);
  await page.locator('#call-pop .call-notice').waitFor({ timeout: 15000 });
  const first = (await page.locator('#call-pop form.call-attach select option').first().innerText());
  h.expect(first.includes(reference) && first.includes('questa pratica'), `the case page's notice offers this case first (${first})`);
  h.expect(await page.locator('#call-pop form.call-new').getByLabel('Oggetto').count() === 1, 'the notice can open a new case');
  await h.checkPage('case-call-notice');
  await page.getByRole('button', { name: 'Chiudi l\'avviso' }).click();
  h.expect(await page.locator('#call-pop .call-notice').count() === 0, 'the notice closes');
}
