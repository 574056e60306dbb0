using System.Buffers;
using System.Text;

namespace MoqLite.Coding;

/// <summary>
/// Reads fields out of one complete message body. The body is already delimited, so running out
/// of bytes, a bad value or bytes left over are all protocol violations.
/// </summary>
public ref struct WireReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
    private SequenceReader<byte> _reader;
    private readonly string _message;

    /// <summary>Starts reading <paramref name="body"/>, naming <paramref name="message"/> in errors.</summary>
    public WireReader(ReadOnlySequence<byte> body, string message)
    {
        _reader = new SequenceReader<byte>(body);
        _message = message;
    }

    /// <summary>Bytes not read yet.</summary>
    public readonly long Remaining => _reader.Remaining;

    /// <summary>Reads a QUIC varint.</summary>
    public ulong VarInt()
    {
        if (!Coding.VarInt.TryRead(ref _reader, out var value))
        {
            throw Truncated();
        }
        return value;
    }

    /// <summary>Reads a varint that must fit the JavaScript peer's 53-bit counters.</summary>
    public ulong VarInt53()
    {
        var value = VarInt();
        if (value > (1UL << 53) - 1)
        {
            throw new ProtocolViolationException($"{_message}: value {value} exceeds 2^53-1");
        }
        return value;
    }

    /// <summary>Reads one raw byte.</summary>
    public byte U8()
    {
        if (!_reader.TryRead(out var value))
        {
            throw Truncated();
        }
        return value;
    }

    /// <summary>Reads a boolean byte, which must be 0 or 1.</summary>
    public bool Bool() => U8() switch
    {
        0 => false,
        1 => true,
        var b => throw new ProtocolViolationException($"{_message}: boolean byte {b} is neither 0 nor 1"),
    };

    /// <summary>Reads an "optional group": a varint holding value+1, zero meaning absent.</summary>
    public ulong? OptionalGroup()
    {
        var raw = VarInt53();
        return raw == 0 ? null : raw - 1;
    }

    /// <summary>Reads a length-prefixed UTF-8 string of at most <paramref name="maxLength"/> bytes.</summary>
    public string Text(int maxLength)
    {
        var length = VarInt();
        if (length > (ulong)maxLength)
        {
            throw new ProtocolViolationException($"{_message}: string of {length} bytes exceeds {maxLength}");
        }
        if ((ulong)_reader.Remaining < length)
        {
            throw Truncated();
        }
        var slice = _reader.UnreadSequence.Slice(0, (long)length);
        _reader.Advance((long)length);
        try
        {
            return slice.IsSingleSegment ? StrictUtf8.GetString(slice.FirstSpan) : StrictUtf8.GetString(slice.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolViolationException($"{_message}: string is not valid UTF-8");
        }
    }

    /// <summary>Reads a length-prefixed broadcast path and normalises it.</summary>
    public string Path(int maxLength) => MoqPath.Normalize(Text(maxLength), _message);

    /// <summary>Reads <paramref name="length"/> raw bytes as a slice of the body.</summary>
    public ReadOnlySequence<byte> Bytes(long length)
    {
        if (_reader.Remaining < length)
        {
            throw Truncated();
        }
        var slice = _reader.UnreadSequence.Slice(0, length);
        _reader.Advance(length);
        return slice;
    }

    /// <summary>Throws unless the whole body was consumed.</summary>
    public readonly void End()
    {
        if (_reader.Remaining != 0)
        {
            throw new ProtocolViolationException($"{_message}: {_reader.Remaining} trailing bytes");
        }
    }

    private readonly ProtocolViolationException Truncated() => new($"{_message}: message ends early");
}
