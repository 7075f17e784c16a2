import type {
  AcquirerConnector,
  AuthorizationAnswer,
  AuthorizationRequest,
  ChallengeCompletion,
  Decision,
  DeclineExplanation,
  FollowUpRequest,
  InquiryRequest,
} from '../acquirers/connector.ts';
import type { TransportFault } from '../acquirers/conformance.ts';
import { TestEngineConnector } from '../acquirers/test-engine.ts';

/**
 * A bank with side effects, in memory, for tests of what the platform does around a connector
 * (the reconciler, PREPARE first): it decides like the test engine, remembers every decision by
 * the platform's operation id, answers status inquiries from that memory, and its "transport"
 * fails as `fault` says. Faults happen in-process (no sockets): the upstream connector's tests
 * use a real process and a real fault proxy for the network.
 */
export class SimulatedBankConnector implements AcquirerConnector {
  readonly name = 'simulated-bank';
  readonly sideEffectFree = false;
  readonly requiredParameters: readonly string[] = [];
  fault: TransportFault = 'none';
  /** How long 'slowAnswer' and 'noAnswer' wait (the latter then throws: its own answer timeout). */
  delayMs = 20;
  /** Inquiries answered `unknown` before the bank tells (a bank still deciding). */
  inquiriesUnknownBeforeAnswer = 0;
  readonly inquiries: InquiryRequest[] = [];
  readonly #decisions = new Map<string, Decision>();
  readonly #engine = new TestEngineConnector();

  explainDecline(declineReason: string): DeclineExplanation | undefined {
    return this.#engine.explainDecline(declineReason);
  }

  /** What the bank did, by the platform's operation id (or trans id when none was sent). */
  decisionOf(operationId: string): Decision | undefined {
    return this.#decisions.get(operationId);
  }

  async authorize(request: AuthorizationRequest): Promise<AuthorizationAnswer> {
    return this.#call(request.operationId ?? request.transId, () => this.#engine.authorize(request));
  }
  async completeChallenge(request: ChallengeCompletion): Promise<Decision> {
    return this.#call(request.transId, () => this.#engine.completeChallenge(request));
  }
  async capture(request: FollowUpRequest): Promise<Decision> {
    return this.#call(request.operationId ?? request.transId, () => this.#engine.capture(request));
  }
  async refund(request: FollowUpRequest): Promise<Decision> {
    return this.#call(request.operationId ?? request.transId, () => this.#engine.refund());
  }
  async reverse(request: FollowUpRequest): Promise<Decision> {
    return this.#call(request.operationId ?? request.transId, () => this.#engine.reverse());
  }
  async void(request: FollowUpRequest): Promise<Decision> {
    return this.#call(request.operationId ?? request.transId, () => this.#engine.void());
  }

  async inquire(request: InquiryRequest): Promise<Decision | { outcome: 'unknown' }> {
    this.inquiries.push(request);
    if (this.fault !== 'none') throw new Error(`status inquiry failed (${this.fault})`);
    if (this.inquiriesUnknownBeforeAnswer > 0) {
      this.inquiriesUnknownBeforeAnswer -= 1;
      return { outcome: 'unknown' };
    }
    return this.#decisions.get(request.operationId) ?? { outcome: 'unknown' };
  }

  async #call<Answer extends AuthorizationAnswer>(key: string, decide: () => Promise<Answer>): Promise<Answer> {
    const fault = this.fault;
    if (fault === 'refused') return { outcome: 'declined', declineReason: 'Acquirer unreachable' } as Answer;
    if (fault === 'noAnswer') {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      throw new Error(`no answer from the bank within ${this.delayMs} ms`);
    }
    if (fault === 'slowAnswer') await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const answer = await decide();
    if (answer.outcome !== 'challenge') this.#decisions.set(key, answer);
    if (fault === 'malformedAnswer') throw new Error('the bank answered something that is not its protocol');
    if (fault === 'answerLost') throw new Error('connection reset after the request was sent');
    return answer;
  }
}
