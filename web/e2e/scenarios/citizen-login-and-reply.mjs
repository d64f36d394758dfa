// A citizen who wrote by web form signs in with SPID (the development
// provider's identity picker), finds the request among their own, opens
// it, replies with a file attached, then saves a draft of a new request.
export const name = 'citizen-login-and-reply';

export default async function ({ page, h }) {
  // The request, sent before signing in with the same e-mail address as
  // the SPID identity (the development OP's Mario Rossi).
  await h.goto('/');
  await page.getByLabel(/Nome e cognome/).fill('Mario Rossi');
  await page.getByLabel(/^E-mail/).fill('mario.rossi@example.org');
  await page.getByLabel(/Oggetto/).fill('Certificato di residenza');
  await page.getByLabel(/Messaggio/).fill('Come posso avere il certificato?');
  await page.locator('label[for="f-privacy"]').click(); // bootstrap-italia draws the box on the label
  await page.getByRole('button', { name: 'Avanti' }).click();
  await page.getByRole('button', { name: 'Invia la richiesta' }).click();
  const reference = (await page.locator('#reference').innerText({ timeout: 15000 })).trim();

  await h.goto('/account');
  await h.checkPage('sign-in');
  await h.loginAs('citizen-mario');
  await page.getByRole('heading', { name: 'Le mie richieste' }).waitFor();
  await h.checkPage('my-requests');
  const link = page.getByRole('link', { name: reference });
  h.expect(await link.count() === 1, `the request ${reference} is listed`);
  await link.click();
  await page.getByRole('heading', { name: 'Certificato di residenza' }).waitFor();
  h.expect(await page.getByText('Come posso avere il certificato?').isVisible(), 'the thread shows the first message');
  await h.checkPage('case');

  // Empty reply: the error is listed and linked.
  await page.getByRole('button', { name: 'Invia il messaggio' }).click();
  h.expect(await page.getByRole('alert').isVisible(), 'an empty reply is refused with an error summary');

  await page.getByLabel('Il tuo messaggio').fill('Allego il documento di identità.');
  await page.getByLabel(/Allegato/).setInputFiles({ name: 'documento.txt', mimeType: 'text/plain', buffer: Buffer.from('Documento di prova\n') });
  await page.getByRole('button', { name: 'Invia il messaggio' }).click();
  await page.getByText('Messaggio inviato.').waitFor();
  h.expect(await page.getByText('Allego il documento di identità.').isVisible(), 'the reply is in the thread');
  h.expect(await page.getByRole('link', { name: 'documento.txt' }).count() === 1, 'the attachment is linked');
  await h.checkPage('case-replied');

  // The home page of a signed-in citizen: name and e-mail from SPID, read-only.
  await h.goto('/');
  h.expect(await page.getByLabel(/^E-mail/).getAttribute('readonly') !== null, 'the e-mail from SPID is read-only');
  await h.checkPage('home-signed-in');

  // A draft, saved and found again.
  await page.getByLabel(/Oggetto/).fill('Bozza: cambio di residenza');
  await page.getByRole('button', { name: 'Salva bozza' }).click();
  await page.getByText('Bozza salvata').waitFor();
  h.expect(await page.getByLabel(/Oggetto/).inputValue() === 'Bozza: cambio di residenza', 'the draft fills the form again');
  await h.checkPage('home-draft');
}
