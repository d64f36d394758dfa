// Two operators of the statistics office (operator-statistics and
// operator-statistics-2 of the development identity provider) have the
// queue open in two browsers; a citizen sends a request from a third
// browser, and both queues show it without being reloaded (Server-Sent
// Events from /console/events).
export const name = 'console-live-queue';

export default async function ({ page, h }) {
  await h.loginStaff('operator-statistics');
  const other = await h.newBrowser('colleague');
  await h.loginStaff('operator-statistics-2', { page: other });

  const watchers = [['operator', page], ['colleague', other]];
  for (const [who, p] of watchers) {
    await p.getByRole('heading', { name: 'Coda' }).waitFor();
    // The feed is open once the page says so.
    await p.locator('#live-status', { hasText: 'Aggiornamento automatico attivo' }).waitFor({ timeout: 15000 });
    // A mark that a reload would wipe.
    await p.evaluate(() => { window.sportelloE2EMark = 'no-reload'; });
    h.expect(await p.locator('#queue-table tbody tr', { hasText: 'Censimento agricolo' }).count() === 0, `${who}: the queue has no such case yet`);
  }
  await h.checkPage('queue-operator');
  await h.checkPageOf(other, 'queue-colleague');

  const citizen = await h.newBrowser('citizen');
  const subject = `Censimento agricolo ${Date.now()}`;
  const reference = await h.sendRequest(citizen, {
    name: 'Teresa Moretti', email: 'teresa.moretti@example.org', topic: 'Richiesta di dati',
    subject, message: 'Dove trovo i risultati del censimento agricolo per comune?',
  });

  for (const [who, p] of watchers) {
    const row = p.locator('#queue-table tbody tr', { hasText: reference });
    await row.waitFor({ timeout: 15000 });
    h.expect((await row.innerText()).includes(subject), `${who}: the new row shows the subject`);
    h.expect(await p.evaluate(() => window.sportelloE2EMark) === 'no-reload', `${who}: the queue updated without reloading the page`);
  }
  await h.checkPage('queue-operator-updated');
  await h.checkPageOf(other, 'queue-colleague-updated');

  // The operator takes the case from the live row: the colleague's queue
  // shows the assignee, again without a reload.
  await page.locator('#queue-table tbody tr', { hasText: reference }).getByRole('link', { name: reference }).click();
  await page.getByRole('button', { name: 'Prendi in carico' }).click();
  await page.locator('#notice').waitFor();
  await other.locator('#queue-table tbody tr', { hasText: reference }).filter({ hasText: 'Operatore statistics' }).waitFor({ timeout: 15000 });
  h.expect(await other.evaluate(() => window.sportelloE2EMark) === 'no-reload', 'colleague: the assignment arrived without a reload');
  await h.checkPageOf(other, 'queue-colleague-assigned');
}
