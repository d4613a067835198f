import { LightningElement, api } from 'lwc';
import getCredit from '@salesforce/apex/AccordCreditController.getCredit';
import { fetchCreditDirect, interpretCredit } from 'c/accordCredit';

/**
 * A customer's credit on an Account record page, read from Accord: limit, balance, overdue
 * amount, available credit and standing, with a loading state, a stale state ("as of …")
 * when Accord serves values it read before an outage, and a partial state when the ERP is
 * down and only the CRM's fields arrive.
 *
 * `mode` "apex" (the default) calls Accord through AccordCreditController and the Accord
 * Named Credential, so no key reaches the browser; "direct" calls Accord from the browser
 * (Accord listed as a CSP Trusted Site, this org's Lightning origin in ACCORD_CORS_ORIGINS).
 */
export default class AccordCreditPanel extends LightningElement {
    @api mode = 'apex';
    @api accordUrl;
    @api directKey;

    loading = false;
    view;
    _recordId;
    _calls = 0;
    _connected = false;

    @api
    get recordId() {
        return this._recordId;
    }

    set recordId(value) {
        const changed = value !== this._recordId;
        this._recordId = value;
        if (changed && this._connected) {
            this.load();
        }
    }

    connectedCallback() {
        this._connected = true;
        this.load();
    }

    disconnectedCallback() {
        this._connected = false;
    }

    handleRefresh() {
        this.load();
    }

    async load() {
        if (!this._recordId) {
            return;
        }
        const call = ++this._calls;
        this.loading = true;
        let view;
        try {
            const body = await this.ask(this._recordId);
            view = interpretCredit(body, new Date());
        } catch (error) {
            view = { state: 'error', message: messageOf(error), problems: [] };
        }
        if (call === this._calls) {
            // Only the latest call's answer is shown (an older one may arrive last).
            this.view = view;
            this.loading = false;
        }
    }

    async ask(accountId) {
        if (this.mode === 'direct') {
            return fetchCreditDirect({
                endpoint: this.accordUrl,
                key: this.directKey,
                salesforceId: accountId
            });
        }
        const text = await getCredit({ accountId });
        return JSON.parse(text);
    }

    get state() {
        return this.view ? this.view.state : 'loading';
    }

    get firstLoad() {
        return this.loading && !this.view;
    }

    get isError() {
        return this.state === 'error';
    }

    get isNotFound() {
        return this.state === 'notFound';
    }

    get isUnavailable() {
        return this.state === 'unavailable';
    }

    get isPartial() {
        return this.state === 'partial';
    }

    get hasCustomer() {
        return this.state === 'ready' || this.state === 'partial';
    }

    get credit() {
        return this.view && this.view.credit;
    }

    get statusClass() {
        return `slds-badge ${this.credit ? this.credit.statusClass : ''}`;
    }

    get stale() {
        return this.view && this.view.stale;
    }

    get overdueClass() {
        const overdue = this.credit && this.credit.overdue;
        return `slds-item_detail${overdue && Number(overdue.amount) > 0 ? ' slds-text-color_error' : ''}`;
    }

    get availableClass() {
        const available = this.credit && this.credit.available;
        return `slds-item_detail${available && Number(available.amount) < 0 ? ' slds-text-color_error' : ''}`;
    }
}

function messageOf(error) {
    // Apex errors arrive as { body: { message } }; a direct call's as an AccordCallError.
    if (error && error.body && error.body.message) {
        return error.body.message;
    }
    if (error && error.message) {
        return error.message;
    }
    return 'Accord could not be asked for this account\'s credit.';
}
