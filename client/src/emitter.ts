/** Typed listeners, one set per event name. A throwing listener never breaks the client: its error is rethrown on its own. */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<(value: never) => void>>();

  /** Adds a listener; the function returned removes it. */
  on<Name extends keyof Events>(name: Name, listener: (value: Events[Name]) => void): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) this.#listeners.set(name, (set = new Set()));
    set.add(listener as (value: never) => void);
    return () => this.off(name, listener);
  }

  off<Name extends keyof Events>(name: Name, listener: (value: Events[Name]) => void): void {
    this.#listeners.get(name)?.delete(listener as (value: never) => void);
  }

  /** Public for the client's own objects only: the application sees them through interfaces without it. */
  emit<Name extends keyof Events>(name: Name, value: Events[Name]): void {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      try {
        (listener as (value: Events[Name]) => void)(value);
      } catch (error) {
        // The application's bug, reported as an uncaught error rather than swallowed or fatal to the client.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
