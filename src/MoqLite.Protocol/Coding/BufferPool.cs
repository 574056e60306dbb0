using System.Buffers;

namespace MoqLite.Coding;

/// <summary>
/// The pool for buffers a relay holds many of at once: group storage and outgoing WebSocket messages. The shared
/// pool keeps only a few arrays per size on each core, so with hundreds of subscribers in flight nearly every rent
/// would miss and allocate; this one keeps enough per size for that, bounded so idle memory stays modest.
/// </summary>
internal static class BufferPool
{
    /// <summary>Arrays up to 1 MiB, 256 kept per size.</summary>
    public static ArrayPool<byte> Shared { get; } = ArrayPool<byte>.Create(maxArrayLength: 1024 * 1024, maxArraysPerBucket: 256);
}
