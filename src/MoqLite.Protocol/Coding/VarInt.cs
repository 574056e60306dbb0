using System.Buffers;
using System.Buffers.Binary;

namespace MoqLite.Coding;

/// <summary>QUIC variable-length integers (RFC 9000 §16): 1, 2, 4 or 8 bytes, 62-bit range.</summary>
public static class VarInt
{
    /// <summary>The largest value a varint can carry (2^62 − 1).</summary>
    public const ulong MaxValue = (1UL << 62) - 1;

    /// <summary>The encoded length of <paramref name="value"/>.</summary>
    public static int Size(ulong value) => value switch
    {
        <= 63 => 1,
        <= 16383 => 2,
        <= 1073741823 => 4,
        <= MaxValue => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "A QUIC varint carries at most 62 bits."),
    };

    /// <summary>Writes <paramref name="value"/> into <paramref name="destination"/> and returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        switch (Size(value))
        {
            case 1:
                destination[0] = (byte)value;
                return 1;
            case 2:
                BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(value | 0x4000));
                return 2;
            case 4:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)value | 0x8000_0000);
                return 4;
            default:
                BinaryPrimitives.WriteUInt64BigEndian(destination, value | 0xC000_0000_0000_0000);
                return 8;
        }
    }

    /// <summary>Writes <paramref name="value"/> to a buffer writer.</summary>
    public static void Write(IBufferWriter<byte> writer, ulong value)
    {
        var span = writer.GetSpan(8);
        writer.Advance(Write(span, value));
    }

    /// <summary>Reads a varint from a span; returns false when the span ends before the varint does.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int consumed)
    {
        if (source.IsEmpty)
        {
            value = 0;
            consumed = 0;
            return false;
        }
        consumed = 1 << (source[0] >> 6);
        if (source.Length < consumed)
        {
            value = 0;
            return false;
        }
        value = consumed switch
        {
            1 => source[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(source) & 0x3FFFUL,
            4 => BinaryPrimitives.ReadUInt32BigEndian(source) & 0x3FFF_FFFFUL,
            _ => BinaryPrimitives.ReadUInt64BigEndian(source) & MaxValue,
        };
        return true;
    }

    /// <summary>Reads a varint from a sequence reader; returns false (consuming nothing) when incomplete.</summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out ulong value)
    {
        if (!reader.TryPeek(out var first))
        {
            value = 0;
            return false;
        }
        var length = 1 << (first >> 6);
        if (reader.UnreadSpan.Length >= length)
        {
            TryRead(reader.UnreadSpan, out value, out _);
            reader.Advance(length);
            return true;
        }
        Span<byte> scratch = stackalloc byte[8];
        if (!reader.TryCopyTo(scratch[..length]))
        {
            value = 0;
            return false;
        }
        TryRead(scratch[..length], out value, out _);
        reader.Advance(length);
        return true;
    }

    /// <summary>Maps a signed delta onto an unsigned value (0, −1, 1, −2 … → 0, 1, 2, 3 …).</summary>
    public static ulong ZigZagEncode(long value) => (ulong)((value << 1) ^ (value >> 63));

    /// <summary>Inverse of <see cref="ZigZagEncode"/>.</summary>
    public static long ZigZagDecode(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
}
