/**
 * Accord's credit answer for one Salesforce Account: the GraphQL document, the direct call
 * (for orgs that list Accord as a CSP Trusted Site) and the reading of Accord's answer into
 * what the panel shows.
 *
 * The document is the same text as graphql/AccordCreditPanel.graphql and as
 * AccordCreditController.QUERY (Apex), so Accord's registered-operations mode accepts it by
 * hash from either path; a test in Accord's suite checks the three agree.
 */

export const OPERATION_NAME = 'AccordCreditPanel';

export const CREDIT_QUERY =
    'query AccordCreditPanel($salesforceId: ID!) { customer(salesforceId: $salesforceId) { id name credit { limit { amount currency } balance { amount currency } overdue { amount currency } available { amount currency } status } } }';

const SOURCE_LABELS = {
    netsuite: 'the ERP (NetSuite)',
    salesforce: 'Salesforce'
};

const STATUS_BADGES = {
    GOOD_STANDING: { label: 'Good standing', className: 'slds-theme_success' },
    OVER_LIMIT: { label: 'Over limit', className: 'slds-theme_warning' },
    ON_HOLD: { label: 'On hold', className: 'slds-theme_error' }
};

const PROBLEMS = {
    SOURCE_UNAVAILABLE: 'is not answering',
    SOURCE_TIMEOUT: 'did not answer in time',
    SOURCE_RATE_LIMITED: 'is limiting requests',
    SOURCE_AUTH: "refused Accord's credentials",
    SOURCE_FORBIDDEN: "refused Accord's credentials",
    SOURCE_BAD_RESPONSE: 'gave an answer Accord could not read'
};

// The registry paths (extensions.stale[].fields) of what the panel shows.
const SHOWN_FIELDS = ['Customer.name', 'CreditSummary.'];

/** A call to Accord that brought no GraphQL answer back. */
export class AccordCallError extends Error {
    constructor(message) {
        super(message);
        this.name = 'AccordCallError';
    }
}

/**
 * POST the credit document to Accord from the browser. Resolves with Accord's GraphQL body
 * (an answer with errors, a 401 included, is still an answer: `interpretCredit` reads it);
 * rejects with `AccordCallError` when no GraphQL answer arrives.
 */
export async function fetchCreditDirect({ endpoint, key, salesforceId, fetchImpl }) {
    const send = fetchImpl || fetch;
    if (!endpoint) {
        throw new AccordCallError('No Accord URL is set for direct calls.');
    }
    const headers = {
        'Content-Type': 'application/json',
        Accept: 'application/json'
    };
    if (key) {
        headers.Authorization = `Bearer ${key}`;
    }
    let response;
    try {
        response = await send(`${endpoint.replace(/\/+$/, '')}/graphql`, {
            method: 'POST',
            headers,
            body: JSON.stringify({
                query: CREDIT_QUERY,
                operationName: OPERATION_NAME,
                variables: { salesforceId }
            })
        });
    } catch (error) {
        // A refused CORS grant or CSP rule looks the same to a script as a network failure.
        throw new AccordCallError(
            'Accord could not be reached from this browser: check the CSP Trusted Site and Accord\'s ACCORD_CORS_ORIGINS.'
        );
    }
    let body;
    try {
        body = await response.json();
    } catch (error) {
        body = null;
    }
    if (!body || typeof body !== 'object' || (!('data' in body) && !('errors' in body))) {
        throw new AccordCallError(`Accord answered HTTP ${response.status} without a GraphQL answer.`);
    }
    return body;
}

function describeProblem(error) {
    const extensions = error.extensions || {};
    const source = SOURCE_LABELS[extensions.source] || extensions.source || 'A source';
    const what = PROBLEMS[extensions.code];
    return {
        code: extensions.code || 'ERROR',
        source: extensions.source || null,
        path: (error.path || []).join('.'),
        message: what ? `${capitalize(source)} ${what}.` : error.message
    };
}

function capitalize(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
}

function isSourceError(error) {
    const code = error && error.extensions && error.extensions.code;
    return typeof code === 'string' && code.startsWith('SOURCE_');
}

function money(value) {
    return value ? { amount: value.amount, currency: value.currency } : null;
}

function staleness(extensions, receivedAt) {
    const entries = ((extensions && extensions.stale) || []).filter((entry) =>
        (entry.fields || []).some((field) => SHOWN_FIELDS.some((shown) => field.startsWith(shown)))
    );
    if (!entries.length) {
        return null;
    }
    // The oldest value shown dates the whole panel.
    const oldest = Math.max(...entries.map((entry) => Number(entry.ageSeconds) || 0));
    const sources = [...new Set(entries.map((entry) => SOURCE_LABELS[entry.source] || entry.source))];
    const why = entries.find((entry) => entry.ageSeconds === oldest) || entries[0];
    return {
        asOf: new Date(receivedAt.getTime() - Math.round(oldest * 1000)),
        ageSeconds: oldest,
        sources,
        reason: describeProblem({ extensions: { code: why.error, source: why.source } }).message
    };
}

/**
 * What the panel shows for Accord's answer `body`, received at `receivedAt`:
 *
 * - `ready`: the customer and its credit (maybe `stale`: values read earlier, with their date);
 * - `partial`: the customer without its credit, and why (`problems`);
 * - `notFound`: Accord has no customer for the Account;
 * - `unavailable`: a source Accord needs to find the customer is down;
 * - `error`: Accord refused the request (`message`).
 */
export function interpretCredit(body, receivedAt = new Date()) {
    const errors = (body && body.errors) || [];
    const data = body && body.data;
    const customer = data ? data.customer : null;
    const problems = errors.filter(isSourceError).map(describeProblem);
    const refusal = errors.find((error) => !isSourceError(error));
    if (refusal && !customer) {
        const code = (refusal.extensions && refusal.extensions.code) || 'ERROR';
        const message =
            code === 'UNAUTHENTICATED'
                ? `Accord refused the credential: ${refusal.message}.`
                : `Accord refused the request: ${refusal.message}`;
        return { state: 'error', code, message, problems };
    }
    if (!customer) {
        if (problems.length) {
            return {
                state: 'unavailable',
                message: `Credit cannot be looked up now: ${problems.map((p) => p.message).join(' ')}`,
                problems
            };
        }
        return { state: 'notFound', message: 'Accord has no customer for this account.', problems };
    }
    const stale = staleness(body.extensions, receivedAt);
    const base = { customerId: customer.id, name: customer.name, stale, problems };
    if (!customer.credit) {
        const missing = problems.filter((p) => p.path.startsWith('customer.credit'));
        return {
            ...base,
            state: 'partial',
            credit: null,
            message: `Credit figures are unavailable: ${(missing.length ? missing : problems)
                .map((p) => p.message)
                .join(' ')}`
        };
    }
    const credit = customer.credit;
    const badge = STATUS_BADGES[credit.status] || { label: credit.status, className: '' };
    return {
        ...base,
        state: 'ready',
        credit: {
            limit: money(credit.limit),
            balance: money(credit.balance),
            overdue: money(credit.overdue),
            available: money(credit.available),
            status: credit.status,
            statusLabel: badge.label,
            statusClass: badge.className
        }
    };
}
