using System.Buffers;

namespace MoqLite.Coding;

/// <summary>
/// The pool for buffers held many at once: group storage, received stream bytes, frames staged while they arrive and
/// outgoing WebSocket messages.
/// The shared pool keeps only a few arrays per size on each core, so with hundreds of subscribers in flight nearly
/// every rent would miss and allocate. Measured with 100 sessions flat out, a few thousand 16 KiB buffers are out at
/// a time: with 256 kept per size, 4 in 10 rents allocated and the arrays, held across collections, drove a gen2
/// collection every 150 ms; with 4,096 kept, only the first rents allocate. What it keeps is bounded by the peak.
/// </summary>
internal static class BufferPool
{
    /// <summary>Arrays up to 1 MiB, 4,096 kept per size.</summary>
    public static ArrayPool<byte> Shared { get; } = ArrayPool<byte>.Create(maxArrayLength: 1024 * 1024, maxArraysPerBucket: 4096);
}
