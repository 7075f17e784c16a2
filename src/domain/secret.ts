import { inspect } from 'node:util';

/**
 * Holds card data (PAN, CVV) so that it cannot leak by accident: JSON.stringify, console.log,
 * pino and template strings all see a mask. Only `reveal()` gives the value, and every call of
 * it is a place to review.
 */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toJSON(): string {
    return '[secret]';
  }
  toString(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return 'Secret([secret])';
  }
}
