using System.Buffers;
using MoqLite.Coding;
using MoqLite.Lite;
using MoqLite.Lite.Messages;

namespace MoqLite.Protocol.Tests.Codec;

/// <summary>Byte-exact vectors for every message and the fields gated by version.</summary>
public class VersionedMessageTests
{
    private static string Encode<T>(T message, LiteVersion version) where T : ILiteMessage<T>
    {
        var buffer = new ArrayBufferWriter<byte>();
        LiteCodec.Write(buffer, message, version);
        return Hex.Of(buffer.WrittenSpan);
    }

    [Theory]
    [InlineData(0UL, "00")]
    [InlineData(63UL, "3f")]
    [InlineData(64UL, "4040")]
    [InlineData(16383UL, "7fff")]
    [InlineData(16384UL, "80004000")]
    [InlineData(1073741823UL, "bfffffff")]
    [InlineData(1073741824UL, "c000000040000000")]
    [InlineData(4611686018427387903UL, "ffffffffffffffff")]
    public void Varints_use_the_shortest_quic_encoding(ulong value, string hex)
    {
        Span<byte> buffer = stackalloc byte[8];
        var written = VarInt.Write(buffer, value);
        Assert.Equal(hex, Hex.Of(buffer[..written]));
        Assert.True(VarInt.TryRead(buffer[..written], out var decoded, out var consumed));
        Assert.Equal(value, decoded);
        Assert.Equal(written, consumed);
    }

    [Fact]
    public void Varint_split_across_segments_is_read_whole()
    {
        var sequence = SegmentedSequence.Create(Hex.Parse("c0"), Hex.Parse("00 00 00"), Hex.Parse("40 00 00 00"));
        var reader = new SequenceReader<byte>(sequence);
        Assert.True(VarInt.TryRead(ref reader, out var value));
        Assert.Equal(1073741824UL, value);
    }

    [Theory]
    [InlineData(0L, 0UL)]
    [InlineData(-1L, 1UL)]
    [InlineData(1L, 2UL)]
    [InlineData(617L, 1234UL)]
    [InlineData(-617L, 1233UL)]
    public void Zigzag_maps_signed_deltas(long delta, ulong wire)
    {
        Assert.Equal(wire, VarInt.ZigZagEncode(delta));
        Assert.Equal(delta, VarInt.ZigZagDecode(wire));
    }

    [Fact]
    public void Announce_request_has_no_exclude_hop_on_lite03()
    {
        Assert.Equal("0403726f6f", Encode(new AnnounceRequest("roo", 7), LiteVersion.Lite03));
        Assert.Equal("0503726f6f07", Encode(new AnnounceRequest("roo", 7), LiteVersion.Lite04));
    }

    [Fact]
    public void Announce_hops_are_ids_on_lite04_and_a_count_on_lite03()
    {
        var message = new AnnounceBroadcast(true, "a", [5, 6]);
        Assert.Equal("0601016102" + "0506", Encode(message, LiteVersion.Lite04));
        Assert.Equal("0401016102", Encode(message, LiteVersion.Lite03));
        Assert.Equal("0400016100", Encode(new AnnounceBroadcast(false, "a", [5]), LiteVersion.Lite05));
    }

    [Fact]
    public void Subscribe_ok_and_drop_on_lite04()
    {
        var buffer = new ArrayBufferWriter<byte>();
        new SubscribeResponse(SubscribeResponseKind.Ok, 0, Ok: new SubscribeUpdate(3, true, 100, 4, null)).Write(buffer, LiteVersion.Lite04);
        Assert.Equal("00" + "06" + "03" + "01" + "4064" + "05" + "00", Hex.Of(buffer.WrittenSpan));
        buffer.Clear();
        SubscribeResponse.Dropped(1, 2, MoqErrorCode.Dropped).Write(buffer, LiteVersion.Lite04);
        Assert.Equal("0103010218", Hex.Of(buffer.WrittenSpan));
        buffer.Clear();
        SubscribeResponse.Dropped(1, 2, MoqErrorCode.Dropped).Write(buffer, LiteVersion.Lite05);
        Assert.Equal("0203010218", Hex.Of(buffer.WrittenSpan));
        buffer.Clear();
        SubscribeResponse.Ended(9).Write(buffer, LiteVersion.Lite05);
        Assert.Equal("010109", Hex.Of(buffer.WrittenSpan));
    }

    [Fact]
    public void Subscribe_update_fetch_goaway_probe()
    {
        Assert.Equal("05" + "05" + "00" + "00" + "01" + "0b", Encode(new SubscribeUpdate(5, false, 0, 0, 10), LiteVersion.Lite05));
        Assert.Equal("07" + "0161" + "0174" + "02" + "4064", Encode(new FetchRequest("a", "t", 2, 100), LiteVersion.Lite05));
        Assert.Equal("0403" + "782f79", Encode(new Goaway("x/y"), LiteVersion.Lite04));
        Assert.Equal("03" + "4064" + "00", Encode(new Probe(100, 0), LiteVersion.Lite04));
        Assert.Equal("02" + "4064", Encode(new Probe(100, 0), LiteVersion.Lite03));
    }

    [Fact]
    public void Setup_with_every_parameter_round_trips()
    {
        var setup = new Setup(1, "room?jwt=x", SetupRole.Subscriber, 42);
        var hex = Encode(setup, LiteVersion.Lite05);
        Assert.Equal("16" + "04" + "010101" + "020a" + Hex.Of("room?jwt=x"u8) + "030102" + "05012a", hex);
        var buffer = new ReadOnlySequence<byte>(Hex.Parse(hex));
        Assert.True(LiteCodec.TryRead<Setup>(ref buffer, LiteVersion.Lite05, 1024, out var decoded));
        Assert.Equal(setup, decoded);
    }

    [Fact]
    public void Frames_on_lite04_have_no_timestamp()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.Write(output, LiteVersion.Lite04, 99, "hi"u8);
        Assert.Equal("026869", Hex.Of(output.WrittenSpan));
    }

    [Fact]
    public void Message_split_across_reads_waits_for_the_rest()
    {
        var whole = Hex.Parse("11 00 05 616c696365 04 63686174 01 00 00 00 00");
        for (var cut = 0; cut < whole.Length; cut++)
        {
            var partial = new ReadOnlySequence<byte>(whole, 0, cut);
            Assert.False(LiteCodec.TryRead<Subscribe>(ref partial, LiteVersion.Lite05, 1024, out _));
            Assert.Equal(cut, partial.Length);
        }
        var split = SegmentedSequence.Create(whole[..5], whole[5..9], whole[9..]);
        Assert.True(LiteCodec.TryRead<Subscribe>(ref split, LiteVersion.Lite05, 1024, out var message));
        Assert.Equal("alice", message.Broadcast);
    }

    [Theory]
    [InlineData("05 00 00 00 01 ff", "trailing")]
    [InlineData("03 00 00 4b", "ends early")]
    [InlineData("06 02 02 4b b8 43 e8", "neither 0 nor 1")]
    [InlineData("06 02 00 4b b8 00 00", "timescale")]
    public void Malformed_track_info_is_a_protocol_violation(string hex, string reason)
    {
        var buffer = new ReadOnlySequence<byte>(Hex.Parse(hex));
        var error = Assert.Throws<ProtocolViolationException>(() => LiteCodec.TryRead<TrackInfoMessage>(ref buffer, LiteVersion.Lite05, 1024, out _));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Equal(MoqErrorCode.ProtocolViolation, error.Code);
    }

    [Fact]
    public void Oversized_message_is_refused_before_it_is_buffered()
    {
        var buffer = new ReadOnlySequence<byte>(Hex.Parse("80 10 00 00"));
        Assert.Throws<ProtocolViolationException>(() => LiteCodec.TryRead<Goaway>(ref buffer, LiteVersion.Lite05, 1024, out _));
    }

    [Fact]
    public void Oversized_frame_is_refused()
    {
        var buffer = new ReadOnlySequence<byte>(Hex.Parse("00 80 10 00 00"));
        Assert.Throws<ProtocolViolationException>(() => FrameCodec.TryReadHeader(ref buffer, LiteVersion.Lite05, 1024, out _, out _));
    }

    [Fact]
    public void Duplicate_setup_parameter_is_a_violation()
    {
        var buffer = new ReadOnlySequence<byte>(Hex.Parse("07 02 05 01 01 05 01 02"));
        Assert.Throws<ProtocolViolationException>(() => LiteCodec.TryRead<Setup>(ref buffer, LiteVersion.Lite05, 1024, out _));
    }

    [Fact]
    public void Paths_are_normalised_and_prefixes_match_whole_segments()
    {
        Assert.Equal("a/b", MoqPath.Normalize("//a///b/"));
        Assert.True(MoqPath.HasPrefix("foo/bar", "foo"));
        Assert.False(MoqPath.HasPrefix("foobar", "foo"));
        Assert.Equal("bar", MoqPath.StripPrefix("foo/bar", "foo"));
        Assert.Equal("", MoqPath.StripPrefix("foo", "foo"));
        Assert.Throws<ProtocolViolationException>(() => MoqPath.Normalize(string.Join('/', Enumerable.Repeat("x", 33))));
    }
}
