namespace MoqLite.Coding;

/// <summary>
/// A pooled array with several holders, returned to <see cref="BufferPool"/> when the last one lets go. A received
/// WebSocket message lives in one: a group that arrived whole in it can keep its frames there instead of copying them.
/// </summary>
internal sealed class SharedBuffer
{
    private int _references = 1;

    /// <summary>Rents an array of at least <paramref name="minimumLength"/> bytes, held by the caller.</summary>
    public SharedBuffer(int minimumLength) => Array = BufferPool.Shared.Rent(minimumLength);

    /// <summary>The array; valid while a reference is held.</summary>
    public byte[] Array { get; }

    /// <summary>True when someone besides the creator holds it: the creator may then no longer write to it.</summary>
    public bool IsShared => Volatile.Read(ref _references) > 1;

    /// <summary>Takes a reference for a new holder.</summary>
    public void Retain() => Interlocked.Increment(ref _references);

    /// <summary>Lets go of one reference; the last returns the array to the pool.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            BufferPool.Shared.Return(Array);
        }
    }
}
