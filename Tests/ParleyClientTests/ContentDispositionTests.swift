import Testing

@testable import ParleyClient

@Suite("Content-Disposition: the name a download is given")
struct ContentDispositionTests {
    @Test("the UTF-8 filename* wins over the ASCII filename, wherever it stands")
    func extended() {
        #expect(ContentDisposition.filename(#"attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20v2.txt"#) == "résumé v2.txt")
        #expect(ContentDisposition.filename(#"inline; filename*=utf-8''%F0%9F%93%B7.png; filename="_.png""#) == "📷.png")
    }

    @Test("a quoted name keeps its semicolons and escaped quotes; a bare one is read to the next parameter")
    func quoted() {
        #expect(ContentDisposition.filename(#"attachment; filename="a; \"b\".pdf""#) == #"a; "b".pdf"#)
        #expect(ContentDisposition.filename("attachment; filename=plain.txt; size=3") == "plain.txt")
    }

    @Test("no name, or a filename* in another charset, gives what else there is")
    func missing() {
        #expect(ContentDisposition.filename("attachment") == nil)
        #expect(ContentDisposition.filename("inline; size=4") == nil)
        #expect(ContentDisposition.filename(#"attachment; filename*=ISO-8859-1''caf%E9.txt; filename="cafe.txt""#) == "cafe.txt")
    }
}
