import {
    AccordCallError,
    CREDIT_QUERY,
    OPERATION_NAME,
    fetchCreditDirect,
    interpretCredit
} from 'c/accordCredit';

// Accord's real answers, captured from a sandbox-backed Accord (see docs/lightning.md).
const fixture = (name) => require(`fixtures/${name}.json`);
const receivedAt = (capture) => new Date(capture.capturedAt);
const read = (name) => {
    const capture = fixture(name);
    return interpretCredit(capture.body, receivedAt(capture));
};

describe('interpretCredit', () => {
    it('reads a customer in good standing into every figure the panel shows', () => {
        const capture = fixture('good-standing');
        const credit = capture.body.data.customer.credit;

        const view = read('good-standing');

        expect(view.state).toBe('ready');
        expect(view.name).toBe(capture.body.data.customer.name);
        expect(view.credit).toEqual({
            limit: credit.limit,
            balance: credit.balance,
            overdue: credit.overdue,
            available: credit.available,
            status: 'GOOD_STANDING',
            statusLabel: 'Good standing',
            statusClass: 'slds-theme_success'
        });
        expect(view.stale).toBeNull();
        expect(view.problems).toEqual([]);
    });

    it.each([
        ['over-limit', 'OVER_LIMIT', 'Over limit', 'slds-theme_warning'],
        ['on-hold', 'ON_HOLD', 'On hold', 'slds-theme_error']
    ])('labels the standing of %s', (name, status, label, className) => {
        const view = read(name);

        expect(view.credit.status).toBe(status);
        expect(view.credit.statusLabel).toBe(label);
        expect(view.credit.statusClass).toBe(className);
    });

    it('keeps amounts as Accord\'s decimal strings, negative available credit included', () => {
        const view = read('over-limit');

        expect(typeof view.credit.available.amount).toBe('string');
        expect(view.credit.available.amount.startsWith('-')).toBe(true);
    });

    it('dates values served stale by their age when the answer arrived', () => {
        const capture = fixture('stale');
        const [entry] = capture.body.extensions.stale;

        const view = read('stale');

        expect(view.state).toBe('ready');
        expect(view.stale.ageSeconds).toBe(entry.ageSeconds);
        expect(view.stale.asOf.getTime()).toBe(
            receivedAt(capture).getTime() - Math.round(entry.ageSeconds * 1000)
        );
        expect(view.stale.sources).toEqual(['the ERP (NetSuite)']);
        expect(view.stale.reason).toBe('The ERP (NetSuite) is not answering.');
    });

    it('ignores stale entries for fields the panel does not show', () => {
        const capture = fixture('stale');
        const elsewhere = {
            ...capture.body,
            extensions: {
                stale: capture.body.extensions.stale.map((entry) => ({
                    ...entry,
                    fields: entry.fields.filter((field) => !field.startsWith('CreditSummary.'))
                }))
            }
        };

        expect(interpretCredit(elsewhere, receivedAt(capture)).stale).toBeNull();
    });

    it.each([
        ['erp-outage', 'SOURCE_UNAVAILABLE', 'The ERP (NetSuite) is not answering.'],
        ['erp-timeout', 'SOURCE_TIMEOUT', 'The ERP (NetSuite) did not answer in time.']
    ])('shows the customer without credit when %s', (name, code, sentence) => {
        const capture = fixture(name);

        const view = read(name);

        expect(view.state).toBe('partial');
        expect(view.name).toBe(capture.body.data.customer.name);
        expect(view.credit).toBeNull();
        expect(view.problems).toEqual([
            { code, source: 'netsuite', path: 'customer.credit', message: sentence }
        ]);
        expect(view.message).toBe(`Credit figures are unavailable: ${sentence}`);
    });

    it('says the customer cannot be looked up while Salesforce is down', () => {
        const view = read('crm-outage');

        expect(view.state).toBe('unavailable');
        expect(view.message).toBe('Credit cannot be looked up now: Salesforce is not answering.');
    });

    it('says when Accord has no customer for the account', () => {
        expect(read('not-found')).toEqual({
            state: 'notFound',
            message: 'Accord has no customer for this account.',
            problems: []
        });
    });

    it('reports a refused key with Accord\'s reason', () => {
        const view = read('unauthenticated');

        expect(view.state).toBe('error');
        expect(view.code).toBe('UNAUTHENTICATED');
        expect(view.message).toBe('Accord refused the credential: unknown API key.');
    });

    it('shows "no limit" data as null amounts (the schema allows a customer without a limit)', () => {
        const capture = fixture('good-standing');
        const customer = capture.body.data.customer;
        const unlimited = {
            data: { customer: { ...customer, credit: { ...customer.credit, limit: null, available: null } } }
        };

        const view = interpretCredit(unlimited, receivedAt(capture));

        expect(view.credit.limit).toBeNull();
        expect(view.credit.available).toBeNull();
        expect(view.credit.balance).toEqual(customer.credit.balance);
    });
});

describe('fetchCreditDirect', () => {
    const answer = (status, body) =>
        jest.fn().mockResolvedValue({ status, json: () => Promise.resolve(body) });

    it('POSTs the panel\'s document with the key to Accord\'s /graphql', async () => {
        const capture = fixture('good-standing');
        const fetchImpl = answer(200, capture.body);

        const body = await fetchCreditDirect({
            endpoint: 'https://accord.example.com/',
            key: 'k-sales-1234567890',
            salesforceId: capture.request.variables.salesforceId,
            fetchImpl
        });

        expect(body).toEqual(capture.body);
        const [url, init] = fetchImpl.mock.calls[0];
        expect(url).toBe('https://accord.example.com/graphql');
        expect(init.method).toBe('POST');
        expect(init.headers).toEqual({
            'Content-Type': 'application/json',
            Accept: 'application/json',
            Authorization: 'Bearer k-sales-1234567890'
        });
        expect(JSON.parse(init.body)).toEqual({
            query: CREDIT_QUERY,
            operationName: OPERATION_NAME,
            variables: capture.request.variables
        });
        expect(init.credentials).toBeUndefined(); // a bearer key needs no cookies
    });

    it('hands a 401 answer on for the panel to read', async () => {
        const capture = fixture('unauthenticated');

        const body = await fetchCreditDirect({
            endpoint: 'https://accord.example.com',
            key: 'not-a-key',
            salesforceId: '0015g0000004KNwAAM',
            fetchImpl: answer(capture.status, capture.body)
        });

        expect(interpretCredit(body).state).toBe('error');
    });

    it('explains a refused CORS grant or CSP rule', async () => {
        const fetchImpl = jest.fn().mockRejectedValue(new TypeError('Failed to fetch'));

        await expect(
            fetchCreditDirect({ endpoint: 'https://accord.example.com', salesforceId: 'x', fetchImpl })
        ).rejects.toThrow(/CSP Trusted Site and Accord's ACCORD_CORS_ORIGINS/);
    });

    it('refuses an answer that is not GraphQL', async () => {
        const fetchImpl = jest.fn().mockResolvedValue({
            status: 502,
            json: () => Promise.reject(new SyntaxError('Unexpected token <'))
        });

        const call = fetchCreditDirect({ endpoint: 'https://accord.example.com', salesforceId: 'x', fetchImpl });

        await expect(call).rejects.toBeInstanceOf(AccordCallError);
        await expect(call).rejects.toThrow('Accord answered HTTP 502 without a GraphQL answer.');
    });

    it('needs an Accord URL', async () => {
        await expect(fetchCreditDirect({ salesforceId: 'x', fetchImpl: jest.fn() })).rejects.toThrow(
            'No Accord URL is set for direct calls.'
        );
    });
});
