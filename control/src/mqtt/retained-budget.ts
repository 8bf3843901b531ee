/**
 * Retained-message budget of the embedded broker: each non-control identity may hold at most
 * `maxTopics` retained topics and `maxBytes` of retained payload. Topic ACLs already confine a
 * node to its own tree, but that tree has one status topic per stream id it cares to invent, and
 * aedes keeps every retained message in memory. Control is not budgeted: what it retains is
 * bounded by its database.
 */

interface Held {
  owner: string;
  bytes: number;
}

export class RetainedBudget {
  private readonly topics = new Map<string, Held>();
  private readonly owners = new Map<string, { topics: number; bytes: number }>();

  constructor(
    readonly maxTopics: number,
    readonly maxBytes: number,
  ) {}

  /**
   * Records a retained publish; false (nothing recorded) when it would take `owner` over budget.
   * An empty payload clears the topic and is always admitted; `exempt` owners are not counted.
   */
  admit(owner: string, topic: string, bytes: number, exempt = false): boolean {
    const prev = this.topics.get(topic);
    if (bytes > 0 && !exempt) {
      const use = this.owners.get(owner) ?? { topics: 0, bytes: 0 };
      const mine = prev?.owner === owner ? prev : undefined;
      const topicsAfter = use.topics + (mine ? 0 : 1);
      const bytesAfter = use.bytes - (mine?.bytes ?? 0) + bytes;
      if (topicsAfter > this.maxTopics || bytesAfter > this.maxBytes) return false;
    }
    if (prev) this.release(prev, topic);
    if (bytes > 0) {
      const held = { owner: exempt ? "" : owner, bytes };
      this.topics.set(topic, held);
      if (!exempt) {
        const use = this.owners.get(owner) ?? { topics: 0, bytes: 0 };
        use.topics++;
        use.bytes += bytes;
        this.owners.set(owner, use);
      }
    }
    return true;
  }

  private release(h: Held, topic: string): void {
    this.topics.delete(topic);
    const use = this.owners.get(h.owner);
    if (!use) return;
    use.topics--;
    use.bytes -= h.bytes;
    if (use.topics <= 0) this.owners.delete(h.owner);
  }

  usage(owner: string): { topics: number; bytes: number } {
    return { ...(this.owners.get(owner) ?? { topics: 0, bytes: 0 }) };
  }
}
