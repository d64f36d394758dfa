// A citizen sends a request without signing in: the form (errors first,
// listed at the top and linked to their fields), the summary, back to the
// form and forward again, then the confirmation with the case reference.
export const name = 'citizen-request-without-login';

export default async function ({ page, h }) {
  await h.goto('/');
  await h.checkPage('home');
  h.expect(await page.getByRole('link', { name: /Entra con SPID/ }).count() > 0, 'the home page offers "Entra con SPID"');
  h.expect(await page.getByRole('link', { name: /Entra con CIE/ }).count() > 0, 'the home page offers "Entra con CIE"');

  // Sent empty: the errors are listed at the top, linked to the fields.
  await page.getByRole('button', { name: 'Avanti' }).click();
  await page.waitForURL(/\/request\/review/);
  const alert = page.getByRole('alert');
  h.expect(await alert.isVisible(), 'an error summary at the top');
  await h.checkPage('form-errors');
  await alert.getByRole('link', { name: /E-mail/ }).click();
  h.expect(await page.evaluate(() => location.hash) === '#f-email', 'the error links to its field');

  await page.getByLabel(/Nome e cognome/).fill('Anna Bianchi');
  await page.getByLabel(/^E-mail/).fill('anna.bianchi@example.org');
  await page.getByLabel('Argomento').selectOption({ label: 'Biblioteca' });
  await page.getByLabel(/Oggetto/).fill('Orari della biblioteca');
  await page.getByLabel(/Messaggio/).fill('Buongiorno,\nvorrei sapere gli orari di apertura estivi.');
  await page.locator('label[for="f-privacy"]').click(); // bootstrap-italia draws the box on the label
  await page.getByRole('button', { name: 'Avanti' }).click();
  await page.getByRole('heading', { name: 'Riepilogo' }).waitFor();
  h.expect(await page.getByText('hanno valore di dichiarazione').isVisible(), 'the summary warns that the data are a declaration');
  h.expect(await page.locator('[aria-current="step"]').innerText() === '2. Riepilogo', 'the stepper shows step 2');
  await h.checkPage('summary');

  // Back: the form keeps what was entered.
  await page.getByRole('button', { name: 'Indietro' }).click();
  h.expect(await page.getByLabel(/Oggetto/).inputValue() === 'Orari della biblioteca', 'back to the form keeps the data');
  await page.getByRole('button', { name: 'Avanti' }).click();
  await page.getByRole('button', { name: 'Invia la richiesta' }).click();

  const ref = page.locator('#reference');
  await ref.waitFor({ timeout: 15000 });
  const reference = (await ref.innerText()).trim();
  h.expect(/^\d{4}-\d{6}$/.test(reference), `a case reference (got "${reference}")`);
  h.expect(await page.getByText('Cosa succede adesso').isVisible(), 'the confirmation says what happens next');
  await h.checkPage('confirmation');

  // The English version of the home page, chosen with the switch (kept
  // by a cookie).
  await h.goto('/');
  await page.getByRole('link', { name: 'English' }).first().click();
  await page.getByRole('heading', { name: 'Send a request' }).waitFor();
  await h.goto('/');
  h.expect(await page.locator('html').getAttribute('lang') === 'en', 'the language choice holds');
  await h.checkPage('home-en');
}
