using System.Buffers;

namespace MoqLite.Transport;

/// <summary>
/// What the contiguous-buffer stream readers (QMux's receive buffer, QUIC's reader) share: the view a read hands out
/// over one array, and how far a reader's <c>AdvanceTo</c> consumed and examined into it.
/// </summary>
internal static class BufferView
{
    /// <summary>The bytes [<paramref name="start"/>, +<paramref name="length"/>) of <paramref name="array"/> as a read's buffer.</summary>
    public static ReadOnlySequence<byte> Of(byte[]? array, int start, int length) =>
        length == 0 ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(array!, start, length);

    /// <summary>Bytes consumed and examined by an <c>AdvanceTo</c> on the view a read handed out; throws if it overreaches.</summary>
    public static (int Used, int Seen) Measure(byte[] array, int start, int length, SequencePosition consumed, SequencePosition examined)
    {
        var view = new ReadOnlySequence<byte>(array, start, length);
        var used = (int)(view.GetOffset(consumed) - view.GetOffset(view.Start));
        var seen = (int)(view.GetOffset(examined) - view.GetOffset(view.Start));
        if (used < 0 || used > seen || seen > length)
        {
            throw new InvalidOperationException("AdvanceTo past the data read, or examined before consumed.");
        }
        return (used, seen);
    }
}
