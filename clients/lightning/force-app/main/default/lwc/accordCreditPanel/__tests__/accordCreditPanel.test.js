import { createElement } from 'lwc';
import AccordCreditPanel from 'c/accordCreditPanel';
import getCredit from '@salesforce/apex/AccordCreditController.getCredit';
import { CREDIT_QUERY } from 'c/accordCredit';

// The Apex boundary: AccordCreditController.getCredit answers with Accord's GraphQL body as a
// string. Its answers here are Accord's real ones, captured from a sandbox-backed Accord.
jest.mock('@salesforce/apex/AccordCreditController.getCredit', () => ({ default: jest.fn() }), {
    virtual: true
});

const fixture = (name) => require(`fixtures/${name}.json`);
const ACCOUNT = fixture('good-standing').request.variables.salesforceId;

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function mount(props = {}) {
    const element = createElement('c-accord-credit-panel', { is: AccordCreditPanel });
    Object.assign(element, { recordId: ACCOUNT, ...props });
    document.body.appendChild(element);
    return element;
}

const find = (element, id) => element.shadowRoot.querySelector(`[data-id="${id}"]`);
const text = (element, id) => find(element, id).textContent.replace(/\s+/g, ' ').trim();

function answerWith(name) {
    getCredit.mockResolvedValue(JSON.stringify(fixture(name).body));
}

afterEach(() => {
    while (document.body.firstChild) {
        document.body.removeChild(document.body.firstChild);
    }
    jest.useRealTimers();
    delete global.fetch;
});

describe('apex mode (the Named Credential)', () => {
    it('shows a spinner until Accord answers', async () => {
        let answer;
        getCredit.mockReturnValue(new Promise((resolve) => (answer = resolve)));

        const element = mount();
        await flush();

        expect(find(element, 'spinner')).not.toBeNull();
        expect(text(element, 'loading')).toBe('Loading credit…');
        expect(find(element, 'balance')).toBeNull();

        answer(JSON.stringify(fixture('good-standing').body));
        await flush();

        expect(find(element, 'spinner')).toBeNull();
        expect(find(element, 'loading')).toBeNull();
    });

    it('asks for the record page\'s account and shows every figure', async () => {
        answerWith('good-standing');
        const { name, credit } = fixture('good-standing').body.data.customer;

        const element = mount();
        await flush();

        expect(getCredit).toHaveBeenCalledWith({ accountId: ACCOUNT });
        expect(text(element, 'name')).toBe(name);
        for (const figure of ['limit', 'balance', 'overdue', 'available']) {
            const shown = find(element, figure);
            expect(shown.value).toBe(credit[figure].amount);
            expect(shown.currencyCode).toBe(credit[figure].currency);
            expect(shown.formatStyle).toBe('currency');
        }
        expect(text(element, 'status')).toBe('Good standing');
        expect(find(element, 'status').className).toContain('slds-theme_success');
        expect(find(element, 'stale')).toBeNull();
        expect(find(element, 'partial')).toBeNull();
    });

    it.each([
        ['over-limit', 'Over limit', 'slds-theme_warning'],
        ['on-hold', 'On hold', 'slds-theme_error']
    ])('shows the standing of %s', async (name, label, className) => {
        answerWith(name);

        const element = mount();
        await flush();

        expect(text(element, 'status')).toBe(label);
        expect(find(element, 'status').className).toContain(className);
    });

    it('marks an overdue amount and a credit overdrawn past its limit', async () => {
        answerWith('over-limit');
        const { credit } = fixture('over-limit').body.data.customer;

        const element = mount();
        await flush();

        expect(Number(credit.available.amount)).toBeLessThan(0);
        expect(find(element, 'available').parentElement.className).toContain('slds-text-color_error');
        expect(Number(credit.overdue.amount)).toBeGreaterThan(0);
        expect(find(element, 'overdue').parentElement.className).toContain('slds-text-color_error');
        expect(find(element, 'balance').parentElement.className).not.toContain('slds-text-color_error');
    });

    it('leaves available credit unmarked within the limit', async () => {
        answerWith('good-standing');

        const element = mount();
        await flush();

        expect(find(element, 'available').parentElement.className).toBe('slds-item_detail');
    });

    it('marks figures served stale with the time they were read', async () => {
        const capture = fixture('stale');
        const [entry] = capture.body.extensions.stale;
        jest.useFakeTimers({
            now: new Date(capture.capturedAt),
            doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'queueMicrotask', 'nextTick']
        });
        answerWith('stale');

        const element = mount();
        await flush();

        expect(find(element, 'balance').value).toBe(capture.body.data.customer.credit.balance.amount);
        expect(text(element, 'stale')).toContain('As of');
        expect(text(element, 'stale')).toContain('The ERP (NetSuite) is not answering.');
        expect(find(element, 'as-of').value.getTime()).toBe(
            new Date(capture.capturedAt).getTime() - Math.round(entry.ageSeconds * 1000)
        );
    });

    it.each([
        ['erp-outage', 'The ERP (NetSuite) is not answering.'],
        ['erp-timeout', 'The ERP (NetSuite) did not answer in time.']
    ])('shows the name and why credit is missing when %s', async (name, sentence) => {
        answerWith(name);

        const element = mount();
        await flush();

        expect(text(element, 'name')).toBe(fixture(name).body.data.customer.name);
        expect(text(element, 'partial')).toBe(`Credit figures are unavailable: ${sentence}`);
        expect(find(element, 'balance')).toBeNull();
        expect(find(element, 'status')).toBeNull();
    });

    it('says the customer cannot be looked up while Salesforce\'s API is down', async () => {
        answerWith('crm-outage');

        const element = mount();
        await flush();

        expect(text(element, 'unavailable')).toBe(
            'Credit cannot be looked up now: Salesforce is not answering.'
        );
        expect(find(element, 'name')).toBeNull();
    });

    it('says when Accord has no customer for the account', async () => {
        answerWith('not-found');

        const element = mount();
        await flush();

        expect(text(element, 'not-found')).toBe('Accord has no customer for this account.');
    });

    it('shows the Apex method\'s explanation when the callout fails', async () => {
        getCredit.mockRejectedValue({
            body: { message: 'Accord is not answering now (HTTP 503). Try again in a moment.' }
        });

        const element = mount();
        await flush();

        expect(text(element, 'error')).toBe(
            'Accord is not answering now (HTTP 503). Try again in a moment.'
        );
    });

    it('refreshes on request and replaces an outage with fresh figures', async () => {
        answerWith('erp-outage');
        const element = mount();
        await flush();
        expect(find(element, 'partial')).not.toBeNull();

        answerWith('good-standing');
        find(element, 'refresh').click();
        await flush();

        expect(getCredit).toHaveBeenCalledTimes(2);
        expect(find(element, 'partial')).toBeNull();
        expect(find(element, 'balance').value).toBe(
            fixture('good-standing').body.data.customer.credit.balance.amount
        );
    });

    it('shows only the latest answer when an older one arrives last', async () => {
        const answers = [];
        getCredit.mockImplementation(() => new Promise((resolve) => answers.push(resolve)));
        const element = mount();
        await flush();
        find(element, 'refresh').click();
        await flush();

        answers[1](JSON.stringify(fixture('on-hold').body));
        await flush();
        answers[0](JSON.stringify(fixture('over-limit').body));
        await flush();

        expect(text(element, 'status')).toBe('On hold');
    });

    it('never calls Accord from the browser', async () => {
        global.fetch = jest.fn();
        answerWith('good-standing');

        mount({ accordUrl: 'https://accord.example.com', directKey: 'ignored-here' });
        await flush();

        expect(global.fetch).not.toHaveBeenCalled();
    });
});

describe('direct mode (a CSP Trusted Site)', () => {
    const respondWith = (name) => {
        const capture = fixture(name);
        global.fetch = jest.fn().mockResolvedValue({
            status: capture.status,
            json: () => Promise.resolve(capture.body)
        });
    };

    it('calls Accord from the browser with the configured key and shows the answer', async () => {
        respondWith('good-standing');

        const element = mount({
            mode: 'direct',
            accordUrl: 'https://accord.example.com',
            directKey: 'k-sales-1234567890'
        });
        await flush();

        expect(getCredit).not.toHaveBeenCalled();
        const [url, init] = global.fetch.mock.calls[0];
        expect(url).toBe('https://accord.example.com/graphql');
        expect(init.headers.Authorization).toBe('Bearer k-sales-1234567890');
        expect(JSON.parse(init.body)).toMatchObject({
            query: CREDIT_QUERY,
            variables: { salesforceId: ACCOUNT }
        });
        expect(text(element, 'status')).toBe('Good standing');
    });

    it('shows Accord\'s refusal of the key', async () => {
        respondWith('unauthenticated');

        const element = mount({ mode: 'direct', accordUrl: 'https://accord.example.com', directKey: 'x' });
        await flush();

        expect(text(element, 'error')).toBe('Accord refused the credential: unknown API key.');
    });

    it('explains a call the browser refused (CORS or CSP)', async () => {
        global.fetch = jest.fn().mockRejectedValue(new TypeError('Failed to fetch'));

        const element = mount({ mode: 'direct', accordUrl: 'https://accord.example.com', directKey: 'x' });
        await flush();

        expect(text(element, 'error')).toContain('could not be reached from this browser');
    });

    it('shows partial answers the same way as through Apex', async () => {
        respondWith('stale');

        const element = mount({ mode: 'direct', accordUrl: 'https://accord.example.com', directKey: 'x' });
        await flush();

        expect(text(element, 'stale')).toContain('The ERP (NetSuite) is not answering.');
    });
});
