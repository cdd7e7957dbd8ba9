package flows

// DefaultBatchSize is the Appender batch: large enough that locking costs nothing per record,
// small enough that a reader waits well under a millisecond for a batch to be applied.
const DefaultBatchSize = 512

// Appender batches records into a Graph. Its Add has the RecordFunc shape, so it can be handed
// straight to a Reader or Follower; call Flush when the source goes idle or ends. An Appender
// is not safe for concurrent use.
type Appender struct {
	g     *Graph
	batch []Record
	kept  int
}

// NewAppender returns an Appender of batches of size records (DefaultBatchSize if size <= 0).
func (g *Graph) NewAppender(size int) *Appender {
	if size <= 0 {
		size = DefaultBatchSize
	}
	return &Appender{g: g, batch: make([]Record, 0, size)}
}

// Add copies r into the batch, applying the batch when it is full.
func (a *Appender) Add(r *Record) error {
	a.batch = append(a.batch, *r)
	if len(a.batch) == cap(a.batch) {
		a.Flush()
	}
	return nil
}

// Flush applies the records batched so far.
func (a *Appender) Flush() {
	if len(a.batch) == 0 {
		return
	}
	a.kept += a.g.AddBatch(a.batch)
	// The batch keeps referring to the last records' interned values until overwritten; that
	// is bounded by the batch size and cheaper than clearing it.
	a.batch = a.batch[:0]
}

// Kept returns how many records the graph has kept so far.
func (a *Appender) Kept() int { return a.kept }
