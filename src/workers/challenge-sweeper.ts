import { expireAbandonedChallenges } from '../operations/complete-challenge.ts';
import type { PlatformContext } from '../operations/context.ts';

/**
 * Declines 3-D Secure and redirect payments whose cardholder never came back, and erases every
 * held CVV past its deadline. Polls; each pass is bounded (see expireAbandonedChallenges).
 */
export class ChallengeSweeper {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(private readonly context: PlatformContext, private readonly options: { pollIntervalMs: number }) {}

  async runOnce(): Promise<{ expired: number; erased: number }> {
    return expireAbandonedChallenges(this.context);
  }

  start(): void {
    const tick = () => {
      this.#running = this.runOnce()
        .then((result) => {
          if (result.expired > 0) this.context.logger.info(result, 'abandoned 3-D Secure payments declined');
        })
        .catch((error: Error) => this.context.logger.error({ error: error.message }, 'challenge sweep failed'))
        .finally(() => {
          this.#running = undefined;
          if (this.#timer) this.#timer = setTimeout(tick, this.options.pollIntervalMs);
        });
    };
    this.#timer = setTimeout(tick, this.options.pollIntervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
