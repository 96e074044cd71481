"""PASCAL Context full (PC-459) class names.

The 459 classes of the PASCAL Context ``labels.txt`` (alphabetical, as released): the ``.mat``
full annotations store class ``k`` (1-based, ``LabelMap``) for ``PC459_CLASSES[k - 1]``; the
converter writes ``k - 1`` and 65535 for unlabelled pixels (value 0).

Provenance: written for mmpat from the released label list and checked against a public copy of
the 459-name table used by the open-vocabulary literature (SAN, CAT-Seg, ...). The tests check
the count, uniqueness, that the 59 PC-59 classes are members, and that their 1-based positions
are the ids mmseg's PASCAL Context converter keeps (the Detail API ``_mapping``).
"""

from __future__ import annotations

# Alphabetical, 459 names (the released spelling, e.g. 'casette recorder', 'pottedplant').
_NAMES = """
accordion; aeroplane; air conditioner; antenna; artillery; ashtray; atrium; baby carriage; bag;
ball; balloon; bamboo weaving; barrel; baseball bat; basket; basketball backboard; bathtub; bed;
bedclothes; beer; bell; bench; bicycle; binoculars; bird; bird cage; bird feeder; bird nest;
blackboard; board; boat; bone; book; bottle; bottle opener; bowl; box; bracelet; brick; bridge;
broom; brush; bucket; building; bus; cabinet; cabinet door; cage; cake; calculator; calendar;
camel; camera; camera lens; can; candle; candle holder; cap; car; card; cart; case;
casette recorder; cash register; cat; cd; cd player; ceiling; cell phone; cello; chain; chair;
chessboard; chicken; chopstick; clip; clippers; clock; closet; cloth; clothes tree; coffee;
coffee machine; comb; computer; concrete; cone; container; control booth; controller; cooker;
copying machine; coral; cork; corkscrew; counter; court; cow; crabstick; crane; crate; cross;
crutch; cup; curtain; cushion; cutting board; dais; disc; disc case; dishwasher; dock; dog;
dolphin; door; drainer; dray; drink dispenser; drinking machine; drop; drug; drum; drum kit;
duck; dumbbell; earphone; earrings; egg; electric fan; electric iron; electric pot; electric saw;
electronic keyboard; engine; envelope; equipment; escalator; exhibition booth; extinguisher;
eyeglass; fan; faucet; fax machine; fence; ferris wheel; fire extinguisher; fire hydrant;
fire place; fish; fish tank; fishbowl; fishing net; fishing pole; flag; flagstaff; flame;
flashlight; floor; flower; fly; foam; food; footbridge; forceps; fork; forklift; fountain; fox;
frame; fridge; frog; fruit; funnel; furnace; game controller; game machine; gas cylinder;
gas hood; gas stove; gift box; glass; glass marble; globe; glove; goal; grandstand; grass;
gravestone; ground; guardrail; guitar; gun; hammer; hand cart; handle; handrail; hanger;
hard disk drive; hat; hay; headphone; heater; helicopter; helmet; holder; hook; horse;
horse-drawn carriage; hot-air balloon; hydrovalve; ice; inflator pump; ipod; iron;
ironing board; jar; kart; kettle; key; keyboard; kitchen range; kite; knife; knife block;
ladder; ladder truck; ladle; laptop; leaves; lid; life buoy; light; light bulb; lighter; line;
lion; lobster; lock; machine; mailbox; mannequin; map; mask; mat; match book; mattress; menu;
metal; meter box; microphone; microwave; mirror; missile; model; money; monkey; mop; motorbike;
mountain; mouse; mouse pad; musical instrument; napkin; net; newspaper; oar; ornament; outlet;
oven; oxygen bottle; pack; pan; paper; paper box; paper cutter; parachute; parasol; parterre;
patio; pelage; pen; pen container; pencil; person; photo; piano; picture; pig; pillar; pillow;
pipe; pitcher; plant; plastic; plate; platform; player; playground; pliers; plume; poker;
poker chip; pole; pool table; postcard; poster; pot; pottedplant; printer; projector; pumpkin;
rabbit; racket; radiator; radio; rail; rake; ramp; range hood; receiver; recorder;
recreational machines; remote control; road; robot; rock; rocket; rocking horse; rope; rug;
ruler; runway; saddle; sand; saw; scale; scanner; scissors; scoop; screen; screwdriver;
sculpture; scythe; sewer; sewing machine; shed; sheep; shell; shelves; shoe; shopping cart;
shovel; sidecar; sidewalk; sign; signal light; sink; skateboard; ski; sky; sled; slippers;
smoke; snail; snake; snow; snowmobiles; sofa; spanner; spatula; speaker; speed bump;
spice container; spoon; sprayer; squirrel; stage; stair; stapler; stick; sticky note; stone;
stool; stove; straw; stretcher; sun; sunglass; sunshade; surveillance camera; swan; sweeper;
swim ring; swimming pool; swing; switch; table; tableware; tank; tap; tape; tarp; telephone;
telephone booth; tent; tire; toaster; toilet; tong; tool; toothbrush; towel; toy; toy car;
track; train; trampoline; trash bin; tray; tree; tricycle; tripod; trophy; truck; tube; turtle;
tvmonitor; tweezers; typewriter; umbrella; unknown; vacuum cleaner; vending machine;
video camera; video game console; video player; video tape; violin; wakeboard; wall; wallet;
wardrobe; washing machine; watch; water; water dispenser; water pipe; water skate board;
watermelon; whale; wharf; wheel; wheelchair; window; window blinds; wineglass; wire; wood; wool
"""

PC459_CLASSES: tuple[str, ...] = tuple(
    name.strip() for name in _NAMES.replace('\n', ' ').split(';') if name.strip()
)
