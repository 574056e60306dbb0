using System.Text;

namespace MoqLite.Coding;

/// <summary>
/// Writes message fields into a span, or only counts them when constructed without one. Messages
/// run their field writer twice — count, then write — so the size prefix needs no scratch buffer.
/// </summary>
public ref struct WireWriter
{
    private readonly Span<byte> _destination;
    private readonly bool _counting;

    /// <summary>A writer that only counts bytes.</summary>
    public WireWriter()
    {
        _counting = true;
    }

    /// <summary>A writer that fills <paramref name="destination"/>.</summary>
    public WireWriter(Span<byte> destination)
    {
        _destination = destination;
    }

    /// <summary>Bytes written (or counted) so far.</summary>
    public int Length { get; private set; }

    /// <summary>Writes a varint.</summary>
    public void VarInt(ulong value)
    {
        Length += _counting ? Coding.VarInt.Size(value) : Coding.VarInt.Write(_destination[Length..], value);
    }

    /// <summary>Writes an "optional group": value+1, or 0 when absent.</summary>
    public void OptionalGroup(ulong? value) => VarInt(value is { } v ? v + 1 : 0);

    /// <summary>Writes one raw byte.</summary>
    public void U8(byte value)
    {
        if (!_counting)
        {
            _destination[Length] = value;
        }
        Length++;
    }

    /// <summary>Writes a boolean as 0 or 1.</summary>
    public void Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    /// <summary>Writes a length-prefixed UTF-8 string.</summary>
    public void Text(string value)
    {
        var byteCount = Encoding.UTF8.GetByteCount(value);
        VarInt((ulong)byteCount);
        if (!_counting)
        {
            Encoding.UTF8.GetBytes(value, _destination[Length..]);
        }
        Length += byteCount;
    }

    /// <summary>Writes raw bytes.</summary>
    public void Bytes(ReadOnlySpan<byte> value)
    {
        if (!_counting)
        {
            value.CopyTo(_destination[Length..]);
        }
        Length += value.Length;
    }
}
